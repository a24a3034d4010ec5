shared::main!(bookings_cancel::function());
