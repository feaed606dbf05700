//! `storage-node`: a thin wrapper; everything lives in the library so tests
//! and `edge storage-node` run the very same code.

#![deny(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    metadata::lifecycle::exit_report(run().map_err(Into::into))
}

fn run() -> anyhow::Result<()> {
    metadata::lifecycle::init_tracing();
    metadata::lifecycle::exit_with_parent_if_asked();
    let args = storage_node::Args::parse();
    metadata::lifecycle::run_on_worker(storage_node::run(args))??;
    Ok(())
}
