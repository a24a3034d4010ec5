shared::main!(ai_tourist_guide::function());
