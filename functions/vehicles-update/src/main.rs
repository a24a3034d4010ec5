shared::main!(vehicles_update::function());
