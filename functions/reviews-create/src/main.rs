shared::main!(reviews_create::function());
