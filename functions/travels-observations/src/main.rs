shared::main!(travels_observations::function());
