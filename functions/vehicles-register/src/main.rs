fn main() -> std::process::ExitCode {
    shared::runtime::run(vehicles_register::function())
}
