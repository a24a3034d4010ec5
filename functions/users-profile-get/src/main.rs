shared::main!(users_profile_get::function());
