fn main() -> std::process::ExitCode {
    shared::runtime::run(vehicles_mine::function())
}
