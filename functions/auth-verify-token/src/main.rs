fn main() -> std::process::ExitCode {
    shared::runtime::run(auth_verify_token::function())
}
