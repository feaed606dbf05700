fn main() -> std::process::ExitCode {
    metadata::lifecycle::exit_report(edge::cli::main().map_err(Into::into))
}
