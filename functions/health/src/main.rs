fn main() -> std::process::ExitCode {
    shared::runtime::run(health::function())
}
