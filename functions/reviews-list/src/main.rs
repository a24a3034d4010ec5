shared::main!(reviews_list::function());
