//! The whole API in one process: every function's router, each behind its own
//! guard, mounted on one port. Same code paths as production, one binary.

shared::global_allocator!();

fn main() -> std::process::ExitCode {
    let mut functions = catalog::functions();
    functions.push(docs::function());
    shared::runtime::serve_all(functions)
}
