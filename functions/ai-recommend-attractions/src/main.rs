shared::main!(ai_recommend_attractions::function());
