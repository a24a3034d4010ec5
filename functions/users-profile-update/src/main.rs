shared::main!(users_profile_update::function());
