//! A throwaway PostgreSQL server on a loopback port, in a temp folder, for
//! tests and benchmarks: no system service, no root, nothing left behind.
//!
//! One server per test process is shared by the tests that run at the same
//! time, each in its own database; the last one to finish stops it (so a
//! later test starts a fresh one). Stopping is an immediate shutdown
//! (SIGQUIT, then SIGKILL if it lingers) and the folder is removed.
//!
//! PostgreSQL refuses to run as root. Run as root (CI containers), the
//! server runs as the `postgres` user the Debian package creates, and its
//! folder is handed to that user.
//!
//! When the binaries are missing, [`TestDatabase::create`] answers `None`
//! so that callers skip with a message, unless `TESSERA_REQUIRE_POSTGRES=1`
//! (set by CI after installing them), which makes it an error.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use std::os::unix::fs::chown;

use nix::unistd::{Pid, User};

/// Set to `1` to make missing PostgreSQL binaries an error, not a skip.
pub const REQUIRE_ENV: &str = "TESSERA_REQUIRE_POSTGRES";
/// A folder holding `initdb` and `postgres`, to use instead of the newest
/// `/usr/lib/postgresql/*/bin`.
pub const BIN_DIR_ENV: &str = "TESSERA_POSTGRES_BIN";

/// How long a fresh server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an immediate shutdown may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The superuser `initdb` creates; it trusts loopback connections.
const SUPERUSER: &str = "tessera";

#[derive(Debug, thiserror::Error)]
pub enum TestPostgresError {
    #[error(
        "PostgreSQL binaries not found (install the `postgresql` package or set {BIN_DIR_ENV})"
    )]
    NotInstalled,
    #[error("running as root needs a `postgres` user to run the server as")]
    NoPostgresUser,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{what} failed: {detail}")]
    Failed { what: &'static str, detail: String },
    #[error("postgres: {0}")]
    Client(#[from] tokio_postgres::Error),
}

/// A database of its own on a shared throwaway server. The server stops
/// when the last database handle of this process is dropped.
pub struct TestDatabase {
    url: String,
    server: Arc<Server>,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("url", &self.url)
            .finish()
    }
}

impl TestDatabase {
    /// A fresh, empty database. `Ok(None)` when PostgreSQL is not installed
    /// and not required (a message says the caller skips).
    pub async fn create() -> Result<Option<TestDatabase>, TestPostgresError> {
        Self::create_with(Durability::Throwaway).await
    }

    /// [`TestDatabase::create`] on a server with `durability`.
    pub async fn create_with(
        durability: Durability,
    ) -> Result<Option<TestDatabase>, TestPostgresError> {
        let server = match shared_server(durability).await {
            Ok(s) => s,
            Err(TestPostgresError::NotInstalled) if !required() => {
                eprintln!(
                    "skipping: PostgreSQL is not installed (set {REQUIRE_ENV}=1 to fail instead)"
                );
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let (client, connection) =
            tokio_postgres::connect(&server.url("postgres"), tokio_postgres::NoTls).await?;
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        drop(client);
        let _ = driver.await;
        Ok(Some(TestDatabase {
            url: server.url(&name),
            server,
        }))
    }

    /// `postgres://` URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's address (to stop it, or to measure against it).
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }
}

fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1")
}

/// How a test server treats commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// No fsync: tests, where the data dies with the server anyway.
    Throwaway,
    /// PostgreSQL's defaults (fsync, synchronous commit): benchmarks that
    /// compare with the embedded store's durable commits.
    Durable,
}

/// The running server of this process with that durability, or a new one.
async fn shared_server(durability: Durability) -> Result<Arc<Server>, TestPostgresError> {
    static THROWAWAY: Mutex<Weak<Server>> = Mutex::new(Weak::new());
    static DURABLE: Mutex<Weak<Server>> = Mutex::new(Weak::new());
    // Starting is blocking work (initdb); one at a time, off the runtime.
    tokio::task::spawn_blocking(move || {
        let slot = match durability {
            Durability::Throwaway => &THROWAWAY,
            Durability::Durable => &DURABLE,
        };
        let mut shared = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(server) = shared.upgrade() {
            return Ok(server);
        }
        let server = Arc::new(Server::start(durability)?);
        *shared = Arc::downgrade(&server);
        Ok(server)
    })
    .await
    .map_err(|e| TestPostgresError::Failed {
        what: "starting postgres",
        detail: e.to_string(),
    })?
}

struct Server {
    child: Mutex<Child>,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Server {
    fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@{}:{}/{database}",
            self.addr.ip(),
            self.addr.port()
        )
    }

    fn start(durability: Durability) -> Result<Server, TestPostgresError> {
        let bin = bin_dir()?;
        let run_as = run_as()?;
        let dir = tempfile::Builder::new().prefix("tessera-pg").tempdir()?;
        if let Some(user) = &run_as {
            chown(dir.path(), Some(user.uid.as_raw()), Some(user.gid.as_raw()))?;
        }
        let data = dir.path().join("data");
        let log = dir.path().join("initdb.log");
        let out = as_user(Command::new(bin.join("initdb")), run_as.as_ref())
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync")
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            std::fs::write(&log, &out.stderr)?;
            return Err(TestPostgresError::Failed {
                what: "initdb",
                detail: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        // A port can be taken between choosing and binding it: try again.
        let mut last = String::new();
        for _ in 0..5 {
            let addr = free_loopback_port()?;
            match spawn_postgres(&bin, &data, dir.path(), addr, durability, run_as.as_ref())? {
                Ok(child) => {
                    return Ok(Server {
                        child: Mutex::new(child),
                        addr,
                        _dir: dir,
                    });
                }
                Err(detail) => last = detail,
            }
        }
        Err(TestPostgresError::Failed {
            what: "starting postgres",
            detail: last,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Ok(pid) = i32::try_from(child.id()) {
            // Immediate shutdown: the postmaster stops its backends too.
            let _ = kill(Pid::from_raw(pid), Signal::SIGQUIT);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Starts the postmaster and waits until it accepts connections. Inner
/// error: it exited (most likely the port was taken); its log.
fn spawn_postgres(
    bin: &Path,
    data: &Path,
    dir: &Path,
    addr: SocketAddr,
    durability: Durability,
    run_as: Option<&User>,
) -> Result<Result<Child, String>, TestPostgresError> {
    let log_path = dir.join(format!("postgres-{}.log", addr.port()));
    let log = std::fs::File::create(&log_path)?;
    if let Some(user) = run_as {
        chown(&log_path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))?;
    }
    let mut cmd = as_user(Command::new(bin.join("postgres")), run_as);
    cmd.arg("-D")
        .arg(data)
        .arg("-p")
        .arg(addr.port().to_string())
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "unix_socket_directories="])
        .args(["-c", "max_connections=300"]);
    if durability == Durability::Throwaway {
        // Throwaway data: durability would only slow the tests down.
        cmd.args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "synchronous_commit=off"]);
    } else {
        // Room for bulk loads without checkpoints every few seconds.
        cmd.args(["-c", "max_wal_size=4GB", "-c", "shared_buffers=512MB"]);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if child.try_wait()?.is_some() {
            return Ok(Err(std::fs::read_to_string(&log_path).unwrap_or_default()));
        }
        if accepts_connections(addr) {
            return Ok(Ok(child));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Err(format!(
                "not ready after {START_TIMEOUT:?}: {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the server completes a startup handshake: a TCP connect alone
/// succeeds before it is ready to run queries.
fn accepts_connections(addr: SocketAddr) -> bool {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return false;
    };
    rt.block_on(async {
        let url = format!(
            "postgres://{SUPERUSER}@{}:{}/postgres",
            addr.ip(),
            addr.port()
        );
        let attempt = tokio::time::timeout(
            Duration::from_secs(2),
            tokio_postgres::connect(&url, tokio_postgres::NoTls),
        );
        matches!(attempt.await, Ok(Ok(_)))
    })
}

fn free_loopback_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind(("127.0.0.1", 0))?.local_addr()
}

/// The folder of `initdb` and `postgres`: `$TESSERA_POSTGRES_BIN`, else the
/// newest Debian `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> Result<PathBuf, TestPostgresError> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        let dir = PathBuf::from(dir);
        return if dir.join("postgres").is_file() {
            Ok(dir)
        } else {
            Err(TestPostgresError::NotInstalled)
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| TestPostgresError::NotInstalled)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("postgres").is_file() && bin.join("initdb").is_file())
                .then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or(TestPostgresError::NotInstalled)
}

/// The user to run the server as: `postgres` when we are root, else us.
fn run_as() -> Result<Option<User>, TestPostgresError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    match User::from_name("postgres") {
        Ok(Some(user)) => Ok(Some(user)),
        _ => Err(TestPostgresError::NoPostgresUser),
    }
}

fn as_user(mut cmd: Command, user: Option<&User>) -> Command {
    if let Some(user) = user {
        cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        // Its home, not ours: root's may be unreadable to it.
        cmd.env("HOME", &user.dir).current_dir("/");
    }
    cmd
}
