# The business's messages: what travellers, drivers and tourists read about
# routes, bookings, rides, vehicles and places. French in fr.ftl, same ids.

## Things (for "… not found")

thing-route = Route
thing-booking = Booking
thing-vehicle = Vehicle
thing-city = City
thing-attraction = Attraction

## Refusals

tickets-unavailable = E-tickets are not available right now
vehicle-not-yours = You do not own this vehicle
vehicle-inactive = Vehicle is not active
seats-over-capacity = Seats exceed the vehicle's capacity of { $capacity }
departure-in-past = Departure time must be in the future
arrival-before-departure = Estimated arrival must be after departure
ride-has-bookings = This ride already has { $booked ->
        [one] { $booked } booked seat
       *[other] { $booked } booked seats
    }: its route, times and price can no longer change. Publish a new ride instead.
seats-below-booked = Seats cannot go below the number already booked on this ride
plate-taken = A vehicle with this license plate already exists
plate-characters = must contain only letters, digits, spaces and hyphens
web-url = must be an http or https URL with a host
at-most-amenities = must hold at most { $max } items
amenity-too-long = each must be at most { $max } characters
departure-left = This departure has already left
departure-cancelled = This departure was cancelled
seats-sold-out = Not enough seats available
trip-departed = This trip has already departed and can no longer be cancelled
observation-not-yours = Only the ride's owner or an administrator can record its trip

## Fields (what is wrong with one, after "field: ")

departure-off-timetable = must be within an hour before and three hours after the timetable
must-be-after = must be after { $other }
not-in-future = must not be in the future
differs-from = differs from { $other }
each-between-characters = each must be { $min } to { $max } characters
at-most-images = must hold at most { $max } images
web-urls = must be http or https URLs with a host
phone-number = must be a phone number such as +237 6 70 00 00 00
past-date = must be a past date, YYYY-MM-DD

## Notices

seats =
    { $count ->
        [one] { $count } seat
       *[other] { $count } seats
    }
booking-confirmed = Booking confirmed: { $origin } → { $destination }
    .body = { $seats } on { $origin } → { $destination }, departing { $departure }. Total { $total }.
booking-cancelled = Booking cancelled: { $origin } → { $destination }
    .body = { $count ->
        [one] Your seat
       *[other] Your { $count } seats
    } on { $origin } → { $destination }, departing { $departure }, { $count ->
        [one] is
       *[other] are
    } released.
ride-cancelled = Ride cancelled: { $origin } → { $destination }
    .body = Your ride from { $origin } to { $destination } on { $departure } was cancelled by the driver

## Acknowledgements (the `message` of `{ message, success }`)

ack-account-deletion-scheduled = Account deletion scheduled
ack-preferences-updated = Preferences updated
