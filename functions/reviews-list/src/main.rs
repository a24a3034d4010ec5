fn main() -> std::process::ExitCode {
    shared::runtime::run(reviews_list::function())
}
