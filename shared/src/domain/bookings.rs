//! Bookings: seats taken on a dated departure, in the shapes the booking
//! functions answer with.
