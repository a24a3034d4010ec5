shared::main!(travels_get::function());
