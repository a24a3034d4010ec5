shared::main!(travels_attractions::function());
