//! The metadata service binary: flags in, [`metadata::server::serve`] out.

use anyhow::Context as _;
use clap::Parser as _;
use metadata::config::{Args, Config};
use metadata::lifecycle;

fn main() -> std::process::ExitCode {
    lifecycle::exit_report(run().map_err(Into::into))
}

fn run() -> anyhow::Result<()> {
    lifecycle::init_tracing();
    lifecycle::exit_with_parent_if_asked();
    let args = Args::parse();
    lifecycle::run_on_worker(serve(args))?
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let config = Config::from_args(args).context("invalid configuration")?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    // Printed on stdout so a parent process (tests, the local cluster) that
    // asked for port 0 learns the port.
    println!("metadata listening on http://{addr}");
    metadata::server::serve(config, listener, lifecycle::shutdown_signal())
        .await
        .context("metadata service failed")?;
    Ok(())
}
