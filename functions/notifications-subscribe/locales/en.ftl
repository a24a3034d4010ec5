# What push subscriptions say. French in fr.ftl, same ids.

push-at-most-channels = at most { $max } channels
push-channel-length = each channel must be { $min } to { $max } characters
ack-subscribed = Subscribed to notifications
