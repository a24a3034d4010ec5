shared::main!(tickets_view::function());
