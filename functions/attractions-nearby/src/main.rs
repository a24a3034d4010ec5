shared::main!(attractions_nearby::function());
