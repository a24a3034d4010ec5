fn main() -> std::process::ExitCode {
    shared::runtime::run(ai_recommend_attractions::function())
}
