fn main() -> std::process::ExitCode {
    shared::runtime::run(docs::function())
}
