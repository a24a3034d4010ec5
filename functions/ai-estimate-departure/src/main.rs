shared::main!(ai_estimate_departure::function());
