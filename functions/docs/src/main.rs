shared::main!(docs::function());
