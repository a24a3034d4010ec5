fn main() -> std::process::ExitCode {
    shared::runtime::run(notifications_ws::function())
}
