shared::main!(root::function());
