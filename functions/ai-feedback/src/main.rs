shared::main!(ai_feedback::function());
