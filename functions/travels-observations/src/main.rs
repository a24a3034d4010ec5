fn main() -> std::process::ExitCode {
    shared::runtime::run(travels_observations::function())
}
