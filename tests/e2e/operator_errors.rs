//! An operator's mistakes (a missing secret file, an unreachable metadata
//! service, a busy port) end the program with one line that names the
//! problem: `error: ` and its causes, each once, and never a backtrace,
//! even with `RUST_BACKTRACE` set in the environment.

use std::net::TcpListener;
use std::time::Duration;

/// Runs the product binary with `args` (and the cluster secret in the
/// environment when `with_secret`); returns its exit code and stderr.
async fn run(args: &[&str], with_secret: bool) -> (Option<i32>, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env_remove("TESSERA_CLUSTER_SECRET")
        .kill_on_drop(true);
    if with_secret {
        command.env("TESSERA_CLUSTER_SECRET", crate::harness::CLUSTER_SECRET);
    }
    let out = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("the command ends")
        .expect("the command runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The one `error: ` line of `stderr` (log lines may come before it).
fn error_line(stderr: &str) -> &str {
    assert!(
        !stderr.contains("Stack backtrace"),
        "a backtrace:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "a panic:\n{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{stderr}");
    let line = errors[0];
    let parts: Vec<&str> = line.split(": ").collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].contains(part),
            "the cause chain repeats {part:?}: {line}"
        );
    }
    line
}

fn unused_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_errors_are_one_line_without_a_backtrace() {
    // A secret file that does not exist.
    let (code, stderr) = run(
        &[
            "admin",
            "status",
            "--cluster-secret-file",
            "/nonexistent/cluster-secret",
        ],
        false,
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        error_line(&stderr).contains("/nonexistent/cluster-secret"),
        "{stderr}"
    );

    // A metadata service that is not there.
    let url = format!("http://127.0.0.1:{}", unused_port());
    let (code, stderr) = run(&["admin", "status", "--metadata-url", &url], true).await;
    assert_eq!(code, Some(1), "{stderr}");
    let line = error_line(&stderr);
    assert!(
        line.contains(&url) && line.contains("is the cluster running?"),
        "{stderr}"
    );

    // The S3 port taken by another program: the error names it.
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy_addr = busy.local_addr().expect("addr").to_string();
    let admin_addr = format!("127.0.0.1:{}", unused_port());
    let (code, stderr) = run(
        &[
            "serve",
            "--listen",
            &busy_addr,
            "--admin-listen",
            &admin_addr,
            "--metadata-url",
            &url,
        ],
        true,
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(error_line(&stderr).contains(&busy_addr), "{stderr}");
}
