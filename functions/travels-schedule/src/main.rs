fn main() -> std::process::ExitCode {
    shared::runtime::run(travels_schedule::function())
}
