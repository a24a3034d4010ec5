fn main() -> std::process::ExitCode {
    shared::runtime::run(attractions_nearby::function())
}
