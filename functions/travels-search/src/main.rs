shared::main!(travels_search::function());
