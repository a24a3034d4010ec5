shared::main!(travels_schedule::function());
