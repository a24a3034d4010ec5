shared::main!(vehicles_register::function());
