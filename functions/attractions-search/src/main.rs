shared::main!(attractions_search::function());
