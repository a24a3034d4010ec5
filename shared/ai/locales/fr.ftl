# Les messages des modèles d’IA : ce que disent les fenêtres de départ, les
# tendances de la demande, les recommandations, les suggestions, le guide
# touristique et l’état des modèles, et les refus des fonctions d’IA.

## Choses (pour « … introuvable »)

ai-thing-prediction = Prédiction

## Mots que les phrases partagent

# Les jours où un départ prend du retard, comme dans « en général 8 min après l’horaire le vendredi ».
ai-on-day-0 = le lundi
ai-on-day-1 = le mardi
ai-on-day-2 = le mercredi
ai-on-day-3 = le jeudi
ai-on-day-4 = le vendredi
ai-on-day-5 = le samedi
ai-on-day-6 = le dimanche
# Le dernier élément d’une liste : « A, B et C ».
ai-list-and = { $rest } et { $last }
# Le temps de route : 3 h 05.
ai-duration = { $hours } h { $minutes }

## Fenêtres de départ (`notes`)

ai-departure-fitted = ajusté sur { $samples } départs observés de { $corridor } vers { $at }{ $synthetic } : en général { $delay } min après l’horaire { $day } ; la fenêtre recommandée a contenu { $coverage } % des départs de validation (erreur moyenne { $mae } min, contre { $baseline } min pour un décalage fixe)
ai-departure-synthetic = , dont { $count ->
        [one] { $count } synthétique
       *[other] { $count } synthétiques
    }
ai-departure-heuristic = heuristique : { $why } pour { $corridor } vers { $at } ; fenêtres autour de l’horaire
ai-departure-no-history = aucun historique ajusté
ai-departure-few-samples = seulement { $samples ->
        [one] { $samples } départ observé
       *[other] { $samples } départs observés
    } ({ $needed } nécessaires)
ai-departure-low-coverage = la fenêtre ajustée n’a contenu que { $coverage } % des départs de validation (60 % requis)

## Tendances de la demande (`commentary`)

ai-pattern-too-few = { $count ->
        [one] { $count } départ de ce trajet a eu lieu
       *[other] { $count } départs de ce trajet ont eu lieu
    } ; une tendance en demande au moins 3
ai-pattern-trend = taux d’occupation sur les { $count } derniers départs : { $mean } % en moyenne, ajusté de { $first } % à { $last } % ({ $slope } points par départ, R² { $r2 }, t { $t })
ai-pattern-upcoming = { $taken ->
        [one] { $taken } place sur { $total } ({ $share } %) déjà réservée
       *[other] { $taken } places sur { $total } ({ $share } %) déjà réservées
    } sur les départs des 14 prochains jours

## Suggestions touristiques

ai-tourism-best = Ne manquez pas { $name } ({ $category }, noté { $rating }/5).
ai-tourism-outing = Combinez { $places } en une seule sortie : ils sont à { $km } km au plus les uns des autres.
ai-tourism-departures = De { $city } à { $destination } : départs quotidiens à { $times }, environ { $duration } de route.
ai-tourism-punctual = Le plus ponctuel est celui de { $at } : il part en général { $delay } min après l’horaire, { $day } environ { $shift } min plus tard ({ $samples } départs observés).

## Recommandations (`reason` : propositions séparées par « ; »)

ai-reason-matches = correspond à { $words }
ai-reason-saved = vous l’avez enregistré
ai-reason-you-rated = vous l’avez noté { $rating }/5
ai-reason-taste = ressemble aux lieux que vous avez enregistrés ou bien notés
ai-reason-rated = noté { $rating }/5
ai-reason-distance = à { $km } km

## Le texte de secours du guide touristique

ai-guide-fallback = { $name } ({ $category }, { $city }). { $description } Idéal pour : { $tags }. Ouvert { $hours } ; entrée : { $fee }. Les visiteurs lui donnent { $rating } sur 5. Prévoyez la visite tôt dans la journée, emportez de l’eau et un peu d’argent liquide en XAF, et vérifiez les horaires sur place avant de partir.

## L’état des modèles (`description`)

ai-model-departure = retard au départ par corridor et par heure prévue, corrigé selon le jour de la semaine ; fenêtres avec leur couverture mesurée sur des départs de validation
ai-model-traffic = vitesse par corridor et par heure de la semaine rapportée à la circulation fluide, ajustée par les positions en direct
ai-model-recommendation = BM25 sur le catalogue des sites, combiné aux goûts, à la note, à la popularité et à la distance, à chaque requête
ai-model-travel-pattern = tendance du taux d’occupation par les moindres carrés sur les derniers départs d’un trajet, à chaque requête

## Avis

ai-feedback-recorded = Avis enregistré
ai-feedback-already-recorded = Un avis sur cette prédiction a déjà été enregistré
ai-feedback-not-a-traveller = Seuls un passager ou le chauffeur de ce départ peuvent indiquer quand il est parti

## Refus et champs invalides

ai-refit-admins-only = Seuls les administrateurs peuvent réajuster les modèles
ai-prediction-id = doit être un identifiant de prédiction (UUID)
ai-departure-required = est obligatoire avec actual_arrival_time
ai-arrival-after-departure = doit être postérieure à actual_departure_time
ai-not-in-future = ne doit pas être dans le futur
ai-feedback-empty = indiquez une heure réelle, une note ou un commentaire
ai-departure-near-timetable = doit se situer entre une heure avant et trois heures après l’horaire
ai-at-most-amenities = doit lister au plus { $max } équipements
ai-amenity-length = chacun doit contenir de { $min } à { $max } caractères
ai-at-most-interests = { $max } centres d’intérêt au plus
ai-interest-too-long = chaque centre d’intérêt doit contenir au plus { $max } caractères
ai-position-pair = la latitude et la longitude vont ensemble
ai-guide-language = doit valoir « en » ou « fr »
