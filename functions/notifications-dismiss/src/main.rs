shared::main!(notifications_dismiss::function());
