# Les messages du métier : ce que lisent voyageurs, chauffeurs et touristes
# sur les trajets, réservations, courses, véhicules et lieux.

## Choses (pour « … introuvable »)

thing-route = Trajet
thing-booking = Réservation
thing-vehicle = Véhicule
thing-city = Ville
thing-attraction = Site touristique

## Refus

tickets-unavailable = Les billets électroniques sont momentanément indisponibles
vehicle-not-yours = Ce véhicule ne vous appartient pas
vehicle-inactive = Ce véhicule n’est pas actif
seats-over-capacity = Le nombre de places dépasse la capacité du véhicule ({ $capacity })
departure-in-past = L’heure de départ doit être dans le futur
arrival-before-departure = L’arrivée prévue doit suivre le départ
ride-has-bookings = Ce trajet compte déjà { $booked ->
        [one] { $booked } place réservée
       *[other] { $booked } places réservées
    } : son itinéraire, ses horaires et son prix ne peuvent plus changer. Publiez plutôt un nouveau trajet.
seats-below-booked = Le nombre de places ne peut pas descendre sous celui déjà réservé sur ce trajet
plate-taken = Un véhicule avec cette plaque d’immatriculation existe déjà
plate-characters = ne doit contenir que des lettres, des chiffres, des espaces et des tirets
web-url = doit être une URL http ou https avec un hôte
at-most-amenities = doit contenir au plus { $max } éléments
amenity-too-long = chacun doit contenir au plus { $max } caractères
departure-left = Ce départ a déjà eu lieu
departure-cancelled = Ce départ a été annulé
seats-sold-out = Il n’y a pas assez de places disponibles
trip-departed = Ce voyage est déjà parti et ne peut plus être annulé
observation-not-yours = Seul le propriétaire du trajet ou un administrateur peut enregistrer son voyage

## Champs (ce qui ne va pas, après « champ : »)

departure-off-timetable = doit se situer entre une heure avant et trois heures après l’horaire prévu
must-be-after = doit être postérieur à { $other }
not-in-future = ne doit pas être dans le futur
differs-from = ne correspond pas à { $other }
each-between-characters = chacun doit contenir de { $min } à { $max } caractères
at-most-images = doit contenir au plus { $max } images
web-urls = doivent être des URL http ou https avec un hôte
phone-number = doit être un numéro de téléphone, par exemple +237 6 70 00 00 00
past-date = doit être une date passée, au format AAAA-MM-JJ

## Avis

seats =
    { $count ->
        [one] { $count } place
       *[other] { $count } places
    }
booking-confirmed = Réservation confirmée : { $origin } → { $destination }
    .body = { $seats } sur { $origin } → { $destination }, départ le { $departure }. Total { $total }.
booking-cancelled = Réservation annulée : { $origin } → { $destination }
    .body = { $count ->
        [one] Votre place
       *[other] Vos { $count } places
    } sur { $origin } → { $destination }, départ le { $departure }, { $count ->
        [one] est libérée
       *[other] sont libérées
    }.
ride-cancelled = Trajet annulé : { $origin } → { $destination }
    .body = Votre trajet de { $origin } à { $destination } du { $departure } a été annulé par le chauffeur

## Confirmations (le `message` de `{ message, success }`)

ack-account-deletion-scheduled = Suppression du compte programmée
ack-preferences-updated = Préférences mises à jour
