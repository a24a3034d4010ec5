# La page du billet électronique (tickets-view). Mêmes ids que en.ftl.

ticket-brand = Billet électronique AI-IMUTIS
ticket-title = Billet · { $route }
ticket-other-language = English
ticket-qr-label = QR code du billet

## Lignes

ticket-passenger = Passager
ticket-date = Date
ticket-departure = Départ
ticket-arrival = Arrivée
ticket-seats = Places
ticket-price = Prix
ticket-payment = Paiement
ticket-vehicle = Véhicule
ticket-booking = Réservation

## Noms montrés quand la personne n'en a donné aucun

ticket-traveller = Voyageur
ticket-driver = Chauffeur

## État

ticket-confirmed = Confirmé — valable pour le voyage
ticket-cancelled = Annulé — non valable pour le voyage
ticket-completed = Terminé — ce voyage a eu lieu
ticket-departed = Parti — ce départ a déjà eu lieu
ticket-pending = En attente — paiement pas encore reçu

ticket-hint = Présentez ce code au contrôleur à l’embarquement.
ticket-hint-cancelled = Cette réservation a été annulée : le code sera refusé à l’embarquement.

## Paiement : `{ moyen } · { état }`

ticket-payment-line = { $method } · { $status }
ticket-payment-method = { $method ->
        [card] Carte bancaire
        [momo] MTN MoMo
        [orange_money] Orange Money
        [cash] Espèces
       *[other] { $method }
    }
ticket-payment-status = { $status ->
        [paid] payé
        [pending] en attente
        [refunded] remboursé
        [failed] échoué
       *[other] { $status }
    }
ticket-vehicle-type = { $type ->
        [car] voiture
        [van] fourgonnette
       *[other] { $type }
    }

## Lien erroné, modifié ou expiré

ticket-not-found = Billet introuvable
ticket-not-found-help = Ce lien est erroné ou a expiré. Rouvrez le billet depuis vos réservations dans l’application.
