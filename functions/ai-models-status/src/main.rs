shared::main!(ai_models_status::function());
