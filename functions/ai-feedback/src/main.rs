fn main() -> std::process::ExitCode {
    shared::runtime::run(ai_feedback::function())
}
