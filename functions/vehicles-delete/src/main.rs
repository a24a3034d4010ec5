shared::main!(vehicles_delete::function());
