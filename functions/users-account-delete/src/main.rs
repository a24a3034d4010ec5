shared::main!(users_account_delete::function());
