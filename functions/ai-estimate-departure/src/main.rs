fn main() -> std::process::ExitCode {
    shared::runtime::run(ai_estimate_departure::function())
}
