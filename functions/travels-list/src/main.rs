shared::main!(travels_list::function());
