shared::main!(users_sessions_list::function());
