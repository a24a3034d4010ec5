# Les messages de la plateforme : les erreurs et les contrôles que toute
# fonction peut renvoyer, et les avis que la plateforme écrit elle-même.

## Erreurs

not-found = { $what } introuvable
route-not-found = Introuvable
thing-session = Session
thing-notification = Notification
method-not-allowed = Méthode non autorisée
payload-too-large = Corps de requête trop volumineux
body-unreadable = Le corps de la requête n’a pas pu être lu
validation-failed = Données invalides
unavailable = Service momentanément indisponible
internal-error = Erreur interne du serveur
not-authenticated = Non authentifié
invalid-token = Jeton d’authentification invalide
auth-unavailable = L’authentification est momentanément indisponible
session-revoked = Session révoquée ; reconnectez-vous
account-deleted = Ce compte a été supprimé
rate-limited = Trop de requêtes
flood-blocked = Trop de requêtes depuis cette adresse ; réessayez plus tard
sign-in-locked = Trop de tentatives de connexion échouées ; réessayez plus tard
too-many-sockets-user = Trop de connexions ouvertes pour cet utilisateur
too-many-sockets-address = Trop de connexions ouvertes depuis cette adresse
idempotency-in-progress = Une requête avec cette clé Idempotency-Key est déjà en cours
unsupported-media-type = Type de contenu non pris en charge : envoyez { $expected }

## Champs (le message d’une 422 est « champ : problème ; … »)

field-problem = { $field } : { $problem }
field-required = Champ obligatoire
json-invalid = Le corps n’est pas un JSON valide
value-invalid = Valeur invalide
must-be-between = doit être compris entre { $min } et { $max }
at-most-characters = doit contenir au plus { $max } caractères
length-between = doit contenir de { $min } à { $max } caractères
must-not-be-empty = ne doit pas être vide
at-most-items = { $max } éléments au plus
must-be-positive = doit être supérieur à 0
no-nul-characters = ne doit pas contenir de caractère NUL
idempotency-key-reused = a déjà servi pour une autre requête

## Avis

new-sign-in = Nouvelle connexion
    .body = Nouvelle connexion depuis { $device }

## Confirmations (le `message` de `{ message, success }`)

ack-signed-out-everywhere = Déconnecté de tous les appareils
ack-session-revoked = Session révoquée
ack-notification-dismissed = Notification lue
