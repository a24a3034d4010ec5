shared::main!(attractions_get::function());
