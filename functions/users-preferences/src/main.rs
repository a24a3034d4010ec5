shared::main!(users_preferences::function());
