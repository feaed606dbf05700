//! Process lifecycle shared by every binary: logging, the runtime its main
//! future runs on, shutdown on SIGINT or SIGTERM, (for child processes of a
//! test harness or the local cluster) exiting when the parent dies, so no
//! process is ever left running, and how a binary ends on an error: one
//! line, never a backtrace.

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

/// Env var: when set to `1`, the process exits once its parent process is gone.
pub const EXIT_WITH_PARENT_ENV: &str = "TESSERA_EXIT_WITH_PARENT";

/// Starts `tracing` with `RUST_LOG` (default `info`, with s3s silenced),
/// logging to stderr.
pub fn init_tracing() {
    // s3s reports every client error (a missing key, a bad signature) at
    // ERROR; the edge logs each request's outcome in its own span instead
    // (5xx at WARN), so s3s is quiet unless RUST_LOG asks for it.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,s3s=off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}

/// If [`EXIT_WITH_PARENT_ENV`] is set, watches the parent process on a thread
/// and exits the process when it has gone (the process is re-parented).
pub fn exit_with_parent_if_asked() {
    if std::env::var(EXIT_WITH_PARENT_ENV).as_deref() != Ok("1") {
        return;
    }
    #[cfg(unix)]
    {
        let parent = std::os::unix::process::parent_id();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(500));
                if std::os::unix::process::parent_id() != parent {
                    eprintln!("parent process {parent} is gone; exiting");
                    std::process::exit(0);
                }
            }
        });
    }
}

/// Runs a process's main future on a worker of a new multi-threaded runtime
/// and returns its output; a panic in it is resumed here.
///
/// Tokio runs a `block_on` future on the calling thread, which is not one
/// of its workers. An accept loop there hands every accepted connection's
/// task to the workers through their shared queue and wakes a parked one:
/// a cross-thread hop, with a futex wake and often an event-fd write, per
/// connection. Spawned, the accept loop runs on a worker, and a new
/// connection's task starts on that worker.
pub fn run_on_worker<F>(main: F) -> std::io::Result<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let handle = runtime.spawn(main);
    match runtime.block_on(handle) {
        Ok(output) => Ok(output),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(std::io::Error::other(e)),
    }
}

/// Ends a binary: success, or `error: ` and the error with its causes on one
/// line on stderr, and exit status 1. An operator's mistake (a busy port, an
/// unreachable service, a missing file) reads as a sentence, even with
/// `RUST_BACKTRACE` set, where returning the error from `main` would print
/// its debug form and a backtrace.
pub fn exit_report(result: Result<(), Box<dyn Error + Send + Sync>>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, joined by `: `. A cause whose message the text
/// already holds is left out, as errors often repeat their source's message
/// in their own.
pub fn one_line(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let message = c.to_string();
        if !message.is_empty() && !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{one_line, run_on_worker};

    #[test]
    fn the_main_future_runs_on_a_worker_and_returns_its_output() {
        let ran_on = run_on_worker(async { std::thread::current().name().map(str::to_owned) })
            .expect("a runtime");
        assert_eq!(ran_on.as_deref(), Some("tokio-rt-worker"));
    }

    #[test]
    fn a_panic_in_the_main_future_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| run_on_worker(async { panic!("boom") }))
            .expect_err("the panic is resumed");
        assert_eq!(caught.downcast_ref::<&str>(), Some(&"boom"));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("reading the config: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("starting the node")]
    struct Wraps(#[source] Repeats);

    #[test]
    fn causes_are_joined_once_each() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = Wraps(Repeats(io));
        assert_eq!(
            one_line(&err),
            "starting the node: reading the config: no such file"
        );
    }

    #[test]
    fn a_lone_error_is_its_message() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use");
        assert_eq!(one_line(&io), "address in use");
    }
}
