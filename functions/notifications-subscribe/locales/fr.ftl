# Ce que disent les abonnements aux notifications push.

push-at-most-channels = au plus { $max } canaux
push-channel-length = chaque canal doit contenir de { $min } à { $max } caractères
ack-subscribed = Abonné aux notifications
