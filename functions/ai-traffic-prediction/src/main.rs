fn main() -> std::process::ExitCode {
    shared::runtime::run(ai_traffic_prediction::function())
}
