fn main() -> std::process::ExitCode {
    shared::runtime::run(city_attractions::function())
}
