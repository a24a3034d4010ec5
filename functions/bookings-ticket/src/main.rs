shared::main!(bookings_ticket::function());
