shared::main!(ai_traffic_prediction::function());
