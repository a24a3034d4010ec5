shared::main!(travels_estimate::function());
