# The AI models' messages: what departure windows, demand trends,
# recommendations, suggestions, the tourist guide and the models' status
# say, and the AI functions' refusals. French in fr.ftl, same ids.

## Things (for "… not found")

ai-thing-prediction = Prediction

## Words the sentences share

# The days a departure runs late, as in "usually 8 min after the timetable on Fridays".
ai-on-day-0 = Mondays
ai-on-day-1 = Tuesdays
ai-on-day-2 = Wednesdays
ai-on-day-3 = Thursdays
ai-on-day-4 = Fridays
ai-on-day-5 = Saturdays
ai-on-day-6 = Sundays
# The last item of a list: "A, B and C".
ai-list-and = { $rest } and { $last }
# Time on the road: 3h05.
ai-duration = { $hours }h{ $minutes }

## Departure windows (`notes`)

ai-departure-fitted = fitted on { $samples } observed departures of { $corridor } around { $at }{ $synthetic }: usually { $delay } min after the timetable on { $day }; the recommended window held { $coverage }% of held-out departures (mean error { $mae } min, against { $baseline } min for a fixed offset)
ai-departure-synthetic = , { $count } of them synthetic
ai-departure-heuristic = heuristic: { $why } for { $corridor } around { $at }; windows around the timetable
ai-departure-no-history = no fitted history
ai-departure-few-samples = only { $samples ->
        [one] { $samples } observed departure
       *[other] { $samples } observed departures
    } ({ $needed } needed)
ai-departure-low-coverage = the fitted window held only { $coverage }% of held-out departures (60% needed)

## Demand trends (`commentary`)

ai-pattern-too-few = { $count ->
        [one] { $count } departure of this route has left
       *[other] { $count } departures of this route have left
    }; a trend needs at least 3
ai-pattern-trend = occupancy over the last { $count } departures: { $mean }% on average, fitted from { $first }% to { $last }% ({ $slope } points per departure, R² { $r2 }, t { $t })
ai-pattern-upcoming = { $taken } of { $total } seats ({ $share }%) already booked on the next 14 days' departures

## Tourism suggestions

ai-tourism-best = Don't miss { $name } ({ $category }, rated { $rating }/5).
ai-tourism-outing = Combine { $places } in one outing: they are at most { $km } km apart.
ai-tourism-departures = { $city } to { $destination }: daily departures at { $times }, about { $duration } on the road.
ai-tourism-punctual = The most punctual is the { $at }: it usually leaves { $delay } min after the timetable, { $day } about { $shift } min later ({ $samples } observed departures).

## Recommendations (`reason`: clauses joined by "; ")

ai-reason-matches = matches { $words }
ai-reason-saved = you saved it
ai-reason-you-rated = you rated it { $rating }/5
ai-reason-taste = like places you saved or rated well
ai-reason-rated = rated { $rating }/5
ai-reason-distance = { $km } km away

## The tourist guide's written fallback

ai-guide-fallback = { $name } ({ $category }, { $city }). { $description } Good for: { $tags }. Open { $hours }; entry: { $fee }. Visitors rate it { $rating } out of 5. Plan your visit early in the day, carry water and some cash in XAF, and check the hours locally before you go.

## The models' status (`description`)

ai-model-departure = departure delay per corridor and scheduled hour with a weekday shift; windows with held-out coverage
ai-model-traffic = speed per corridor and hour of the week against free flow, moved by live pings
ai-model-recommendation = BM25 over the attraction catalogue blended with taste, rating, popularity and distance, per request
ai-model-travel-pattern = least-squares occupancy trend over a route's latest departures, per request

## Feedback

ai-feedback-recorded = Feedback recorded
ai-feedback-already-recorded = Feedback on this prediction was already recorded
ai-feedback-not-a-traveller = Only a passenger or the driver of this departure can report when it left

## Refusals and invalid fields

ai-refit-admins-only = Only administrators can refit the models
ai-prediction-id = must be a prediction id (UUID)
ai-departure-required = is required with actual_arrival_time
ai-arrival-after-departure = must be after actual_departure_time
ai-not-in-future = must not be in the future
ai-feedback-empty = give an actual time, a rating or a comment
ai-departure-near-timetable = must be within an hour before and three hours after the timetable
ai-at-most-amenities = must list at most { $max } amenities
ai-amenity-length = each must be { $min } to { $max } characters
ai-at-most-interests = at most { $max } interests
ai-interest-too-long = each interest must be at most { $max } characters
ai-position-pair = latitude and longitude come together
ai-guide-language = must be "en" or "fr"
