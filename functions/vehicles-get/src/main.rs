shared::main!(vehicles_get::function());
