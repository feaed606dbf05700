//! The product's executable, built inside the test package so that the
//! end-to-end tests can start real processes of it (`CARGO_BIN_EXE_tessera`).

fn main() -> anyhow::Result<()> {
    edge::cli::main()
}
