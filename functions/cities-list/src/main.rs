shared::main!(cities_list::function());
