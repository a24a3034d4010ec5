shared::main!(vehicles_mine::function());
