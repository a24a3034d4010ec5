fn main() -> std::process::ExitCode {
    shared::runtime::run(attractions_search::function())
}
