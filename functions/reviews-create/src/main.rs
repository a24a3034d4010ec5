fn main() -> std::process::ExitCode {
    shared::runtime::run(reviews_create::function())
}
