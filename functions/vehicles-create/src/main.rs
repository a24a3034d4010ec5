shared::main!(vehicles_create::function());
