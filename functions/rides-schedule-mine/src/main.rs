fn main() -> std::process::ExitCode {
    shared::runtime::run(rides_schedule_mine::function())
}
