shared::main!(ai_refit::function());
