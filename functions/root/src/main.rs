fn main() -> std::process::ExitCode {
    shared::runtime::run(root::function())
}
