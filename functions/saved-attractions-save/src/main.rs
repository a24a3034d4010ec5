shared::main!(saved_attractions_save::function());
