shared::main!(notifications_ws::function());
