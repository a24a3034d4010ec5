shared::main!(travels_book::function());
