# The e-ticket page (tickets-view). French in fr.ftl, same ids.

ticket-brand = AI-IMUTIS e-ticket
ticket-title = E-ticket · { $route }
ticket-other-language = Français
ticket-qr-label = Ticket QR code

## Rows

ticket-passenger = Passenger
ticket-date = Date
ticket-departure = Departure
ticket-arrival = Arrival
ticket-seats = Seats
ticket-price = Price
ticket-payment = Payment
ticket-vehicle = Vehicle
ticket-booking = Booking

## Names shown when a person gave none

ticket-traveller = Traveller
ticket-driver = Driver

## Standing

ticket-confirmed = Confirmed — valid for travel
ticket-cancelled = Cancelled — not valid for travel
ticket-completed = Completed — this trip is over
ticket-departed = Departed — this trip has already left
ticket-pending = Pending — payment not yet received

ticket-hint = Show this code to the conductor when boarding.
ticket-hint-cancelled = This booking was cancelled: the code will be refused at boarding.

## Payment: `{ method } · { status }`

ticket-payment-line = { $method } · { $status }
ticket-payment-method = { $method ->
        [card] Card
        [momo] MTN MoMo
        [orange_money] Orange Money
        [cash] Cash
       *[other] { $method }
    }
ticket-payment-status = { $status ->
        [paid] paid
        [pending] pending
        [refunded] refunded
        [failed] failed
       *[other] { $status }
    }
ticket-vehicle-type = { $type }

## A wrong, altered or expired link

ticket-not-found = Ticket not found
ticket-not-found-help = This link is wrong or has expired. Open the ticket again from your bookings in the app.
