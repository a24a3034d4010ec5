shared::main!(ai_traffic_ws::function());
