shared::main!(saved_attractions_list::function());
