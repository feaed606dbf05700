//! The product's executable, built inside the test package so that the
//! end-to-end tests can start real processes of it (`CARGO_BIN_EXE_tessera`).

fn main() -> std::process::ExitCode {
    metadata::lifecycle::exit_report(edge::cli::main().map_err(Into::into))
}
