shared::main!(users_sessions_revoke::function());
