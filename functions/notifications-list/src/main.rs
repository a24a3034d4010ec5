shared::main!(notifications_list::function());
