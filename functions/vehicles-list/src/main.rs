shared::main!(vehicles_list::function());
