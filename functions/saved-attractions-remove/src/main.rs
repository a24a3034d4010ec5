shared::main!(saved_attractions_remove::function());
