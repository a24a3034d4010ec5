fn main() -> std::process::ExitCode {
    shared::runtime::run(users_account_delete::function())
}
