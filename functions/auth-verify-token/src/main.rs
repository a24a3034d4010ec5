shared::main!(auth_verify_token::function());
