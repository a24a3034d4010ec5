shared::main!(ai_analyze_travel_pattern::function());
