fn main() -> std::process::ExitCode {
    shared::runtime::run(ai_models_status::function())
}
