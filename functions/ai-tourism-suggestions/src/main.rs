fn main() -> std::process::ExitCode {
    shared::runtime::run(ai_tourism_suggestions::function())
}
