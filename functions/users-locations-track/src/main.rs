fn main() -> std::process::ExitCode {
    shared::runtime::run(users_locations_track::function())
}
