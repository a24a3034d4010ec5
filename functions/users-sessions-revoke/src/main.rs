fn main() -> std::process::ExitCode {
    shared::runtime::run(users_sessions_revoke::function())
}
