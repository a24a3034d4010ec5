shared::main!(ai_tourism_suggestions::function());
