fn main() -> std::process::ExitCode {
    bosun::cli::main()
}
