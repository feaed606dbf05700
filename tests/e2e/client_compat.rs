//! Client compatibility: aws-cli, boto3, rclone and s3cmd, each at its
//! default settings, against a real cluster. The checks live in
//! `tests/compat/clients.sh` (which also runs by hand against
//! `local-cluster`); this test starts a cluster, runs the script against it
//! and fails with the script's output.
//!
//! Without the client tools on PATH the test says so loudly and passes, so
//! that `cargo test` works with the Rust toolchain alone; with
//! `TESSERA_REQUIRE_CLIENT_TOOLS=1` (set by `.ci/run`, which installs them)
//! a missing tool fails it.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::harness::{ACCESS_KEY, SECRET_KEY, TestCluster};

/// The script takes well under a minute on a quiet machine and bounds each
/// client command itself; this is the backstop for the whole run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("compat")
        .join("clients.sh")
}

/// The script's own check: `None` when every tool is there, else its words
/// naming the missing ones.
fn missing_tools() -> Option<String> {
    let out = std::process::Command::new("bash")
        .arg(script())
        .arg("--check-tools")
        .stdin(Stdio::null())
        .output()
        .expect("run bash");
    match out.status.code() {
        Some(0) => None,
        Some(3) => Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
        _ => panic!(
            "clients.sh --check-tools failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mainstream_clients_work_at_their_defaults() {
    if let Some(missing) = missing_tools() {
        let required = std::env::var("TESSERA_REQUIRE_CLIENT_TOOLS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "TESSERA_REQUIRE_CLIENT_TOOLS=1 and the client tools are not all installed: {missing}"
        );
        // Straight to stderr, past the test harness's capture, so it shows in
        // every `cargo test` run.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!! client_compat SKIPPED: {missing}. The client-compatibility test \
             (aws-cli, boto3, rclone, s3cmd, curl) did not run; .ci/run installs them. !!!!!\n"
        );
        return;
    }

    let t = TestCluster::start().await;
    // stdout and stderr share one open file (and so one offset), which keeps
    // the script's lines whole and in order.
    let log = tempfile::NamedTempFile::new().expect("log file");
    let out = log.reopen().expect("log file");
    let err = out.try_clone().expect("log file");
    let mut child = tokio::process::Command::new("bash")
        .arg(script())
        .env("S3_ENDPOINT", t.cluster.s3_endpoint())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own process group, so a time-out ends the clients it started
        // too (each of which the script also bounds with `timeout`).
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("start clients.sh");
    let pid = child.id().expect("script pid");

    let status = match tokio::time::timeout(SCRIPT_TIMEOUT, child.wait()).await {
        Ok(status) => Some(status.expect("wait for clients.sh")),
        Err(_) => {
            let group = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid"));
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait().await;
            None
        }
    };
    let output =
        String::from_utf8_lossy(&std::fs::read(log.path()).unwrap_or_default()).into_owned();
    match status {
        Some(s) if s.success() => println!("{output}"),
        Some(s) => panic!("tests/compat/clients.sh failed ({s}):\n{output}"),
        None => {
            panic!("tests/compat/clients.sh did not finish within {SCRIPT_TIMEOUT:?}:\n{output}")
        }
    }
}
