fn main() -> std::process::ExitCode {
    shared::runtime::run(bookings_ticket::function())
}
