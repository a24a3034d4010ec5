fn main() -> std::process::ExitCode {
    shared::runtime::run(users_profile_update::function())
}
