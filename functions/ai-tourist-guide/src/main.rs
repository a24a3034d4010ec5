fn main() -> std::process::ExitCode {
    shared::runtime::run(ai_tourist_guide::function())
}
