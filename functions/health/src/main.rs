shared::main!(health::function());
