fn main() -> std::process::ExitCode {
    shared::runtime::run(ai_analyze_travel_pattern::function())
}
