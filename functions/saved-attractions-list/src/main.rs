fn main() -> std::process::ExitCode {
    shared::runtime::run(saved_attractions_list::function())
}
