fn main() -> std::process::ExitCode {
    dynasim::cli::main()
}
