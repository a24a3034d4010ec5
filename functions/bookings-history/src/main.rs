shared::main!(bookings_history::function());
