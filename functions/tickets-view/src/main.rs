fn main() -> std::process::ExitCode {
    shared::runtime::run(tickets_view::function())
}
