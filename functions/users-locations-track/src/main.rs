shared::main!(users_locations_track::function());
