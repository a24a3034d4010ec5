fn main() -> std::process::ExitCode {
    shared::runtime::run(users_preferences::function())
}
