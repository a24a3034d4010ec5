shared::main!(notifications_subscribe::function());
