fn main() -> std::process::ExitCode {
    shared::runtime::run(cities_list::function())
}
