//! Configuration: flags (and env) over an optional TOML file, validated once
//! into a [`Config`] that the library uses. Raw structs accept what a user can
//! write; only [`Config`] is trusted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use listener::{Limits, LimitsError, RawLimits};
use serde::Deserialize;

use crate::cluster_auth::{ClusterSecret, ClusterSecretError};
use crate::leader::DEFAULT_LEASE_TTL;
use crate::registry::DEFAULT_HEARTBEAT_TIMEOUT;
use crate::store::PgOptions;
use crate::store::postgres::DEFAULT_POOL_SIZE;

/// Where the service listens unless told otherwise.
pub use crate::repair::RepairConfig;
use crate::repair::{DEFAULT_REBALANCE_MOVES, DEFAULT_REPAIR_AFTER, DEFAULT_SCAN_EVERY};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9100";

/// Flags of the metadata service. A library type, so another binary (the
/// edge's `edge metadata ...`) can embed it as a subcommand.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(name = "metadata", about = "Tessera metadata service", version)]
pub struct Args {
    /// TOML config file; flags override its values.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:9100].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Folder of the embedded metadata database (`metadata.redb`). Required
    /// here or in the config file unless a PostgreSQL URL is given.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Keep the metadata in PostgreSQL instead of the embedded file, e.g.
    /// `postgres://tessera:secret@db:5432/tessera`. Several replicas may
    /// share one database.
    #[arg(long, env = "TESSERA_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,

    /// File holding the PostgreSQL URL (keeps its password out of `ps`).
    #[arg(long, value_name = "FILE")]
    pub postgres_url_file: Option<PathBuf>,

    /// Most PostgreSQL connections this replica holds [default: 16].
    #[arg(long, value_name = "N")]
    pub postgres_pool_size: Option<usize>,

    /// How long the replica leading repair and garbage collection holds its
    /// lease without renewing it; a killed leader is replaced after about
    /// this long [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub leader_lease: Option<Duration>,

    /// The address other processes reach this replica at, if not `--listen`
    /// (shown to operators as the leader's address).
    #[arg(long, value_name = "ADDR")]
    pub advertise: Option<String>,

    /// Shared secret of the cluster (at least 16 characters).
    #[arg(long, env = "TESSERA_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,

    /// File holding the cluster secret (keeps it out of `ps` and shell history).
    #[arg(long, value_name = "FILE")]
    pub cluster_secret_file: Option<PathBuf>,

    /// A node without a heartbeat for this long is down [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub heartbeat_timeout: Option<Duration>,

    /// How long replaced and deleted data is kept before its shards are
    /// collected; readers that started before the replacement may still be
    /// streaming it [default: 1h].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub gc_grace: Option<Duration>,

    /// How long a node may be silent before the shards it holds are
    /// rebuilt on other nodes [default: 5m].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub repair_after: Option<Duration>,

    /// How often every manifest is walked to prove full redundancy when
    /// nothing else prompts a walk [default: 5m].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub repair_scan_every: Option<Duration>,

    /// Most rebalance moves in flight across the cluster (shards moving to
    /// a node that joined); 0 turns rebalance off [default: 8].
    #[arg(long, value_name = "COUNT")]
    pub rebalance_moves: Option<usize>,
}

/// The TOML config file, as written by an operator. Every field is optional
/// here; [`Config::from_args`] decides what is required.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Address to listen on, e.g. `"0.0.0.0:9100"`.
    pub listen: Option<SocketAddr>,
    /// Folder of the embedded metadata database.
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL; selects the PostgreSQL backend. Prefer
    /// `postgres_url_file` when the URL carries a password.
    pub postgres_url: Option<String>,
    /// File holding the PostgreSQL URL.
    pub postgres_url_file: Option<PathBuf>,
    /// Most PostgreSQL connections this replica holds.
    pub postgres_pool_size: Option<usize>,
    /// Lease of the replica leading maintenance, e.g. `"5s"`.
    #[serde(default, with = "humantime_serde")]
    pub leader_lease: Option<Duration>,
    /// The address other processes reach this replica at.
    pub advertise: Option<String>,
    /// The cluster secret itself. Prefer `cluster_secret_file`.
    pub cluster_secret: Option<String>,
    /// File holding the cluster secret.
    pub cluster_secret_file: Option<PathBuf>,
    /// Heartbeat timeout, e.g. `"5s"` or `"1500ms"`.
    #[serde(default, with = "humantime_serde")]
    pub heartbeat_timeout: Option<Duration>,
    /// Garbage grace period, e.g. `"1h"`.
    #[serde(default, with = "humantime_serde")]
    pub gc_grace: Option<Duration>,
    /// Silence before a node's shards are rebuilt elsewhere, e.g. `"5m"`.
    #[serde(default, with = "humantime_serde")]
    pub repair_after: Option<Duration>,
    /// Period of the walk that proves full redundancy, e.g. `"5m"`.
    #[serde(default, with = "humantime_serde")]
    pub repair_scan_every: Option<Duration>,
    /// Most rebalance moves in flight; 0 turns rebalance off.
    pub rebalance_moves: Option<usize>,
    /// Timeouts and connection caps of the API port (`[limits]`).
    #[serde(default)]
    pub limits: RawLimits,
}

/// Where the metadata is kept.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// The embedded store: `<data_dir>/metadata.redb`, one process.
    Embedded { data_dir: PathBuf },
    /// PostgreSQL, shared by any number of replicas.
    Postgres(PgOptions),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub store: StoreConfig,
    /// How this replica is named to others (its lease holder address).
    pub advertise: String,
    pub leader_lease: Duration,
    pub cluster_secret: ClusterSecret,
    pub heartbeat_timeout: Duration,
    pub gc_grace: Duration,
    pub repair: RepairConfig,
    /// Timeouts and connection caps of the API port.
    pub limits: Limits,
}

/// Replaced data stays this long before its shards are collected.
pub const DEFAULT_GC_GRACE: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error(
        "no metadata store: pass --data-dir (embedded) or --postgres-url, or set \
         data_dir or postgres_url in the config file"
    )]
    MissingDataDir,
    #[error("the leader lease must be at least 300ms")]
    ShortLease,
    #[error(
        "no cluster secret: pass --cluster-secret, TESSERA_CLUSTER_SECRET or \
         --cluster-secret-file, or set cluster_secret(_file) in the config file"
    )]
    MissingSecret,
    #[error("cluster secret: {0}")]
    Secret(#[from] ClusterSecretError),
    #[error("heartbeat timeout must be positive")]
    ZeroHeartbeatTimeout,
    #[error(transparent)]
    Limits(#[from] LimitsError),
}

impl Config {
    /// A config for tests and embedding: defaults for everything optional.
    pub fn new(data_dir: impl Into<PathBuf>, cluster_secret: ClusterSecret) -> Self {
        Config {
            listen: default_listen(),
            store: StoreConfig::Embedded {
                data_dir: data_dir.into(),
            },
            advertise: default_listen().to_string(),
            leader_lease: DEFAULT_LEASE_TTL,
            cluster_secret,
            heartbeat_timeout: DEFAULT_HEARTBEAT_TIMEOUT,
            gc_grace: DEFAULT_GC_GRACE,
            repair: RepairConfig::default(),
            limits: Limits::INTERNAL,
        }
    }

    /// Reads the config file (if any) and lets flags override it.
    pub fn from_args(args: Args) -> Result<Config, ConfigError> {
        let raw = match &args.config {
            Some(path) => read_raw(path)?,
            None => RawConfig::default(),
        };
        Self::from_raw(args, raw)
    }

    /// Merges flags over a parsed file and validates the result.
    pub fn from_raw(args: Args, raw: RawConfig) -> Result<Config, ConfigError> {
        // A URL (or its file) named on the command line wins over the
        // config file's; a URL selects PostgreSQL whatever data folder is
        // also set (the local cluster always passes one).
        let postgres_url = match (
            args.postgres_url,
            args.postgres_url_file,
            raw.postgres_url,
            raw.postgres_url_file,
        ) {
            (Some(u), ..) => Some(u),
            (None, Some(f), ..) => Some(read_secret(&f)?),
            (None, None, Some(u), _) => Some(u),
            (None, None, None, Some(f)) => Some(read_secret(&f)?),
            (None, None, None, None) => None,
        };
        let store = match postgres_url {
            Some(url) => StoreConfig::Postgres(PgOptions {
                url,
                pool_size: args
                    .postgres_pool_size
                    .or(raw.postgres_pool_size)
                    .unwrap_or(DEFAULT_POOL_SIZE)
                    .max(1),
            }),
            None => StoreConfig::Embedded {
                data_dir: args
                    .data_dir
                    .or(raw.data_dir)
                    .ok_or(ConfigError::MissingDataDir)?,
            },
        };
        let leader_lease = args
            .leader_lease
            .or(raw.leader_lease)
            .unwrap_or(DEFAULT_LEASE_TTL);
        if leader_lease < Duration::from_millis(300) {
            return Err(ConfigError::ShortLease);
        }
        let listen = args.listen.or(raw.listen).unwrap_or_else(default_listen);
        // A secret given on the command line (or env) wins over a file named
        // on the command line, which wins over the config file's choices.
        let secret = match (
            args.cluster_secret,
            args.cluster_secret_file,
            raw.cluster_secret,
            raw.cluster_secret_file,
        ) {
            (Some(s), ..) => s,
            (None, Some(f), ..) => read_secret(&f)?,
            (None, None, Some(s), _) => s,
            (None, None, None, Some(f)) => read_secret(&f)?,
            (None, None, None, None) => return Err(ConfigError::MissingSecret),
        };
        let heartbeat_timeout = args
            .heartbeat_timeout
            .or(raw.heartbeat_timeout)
            .unwrap_or(DEFAULT_HEARTBEAT_TIMEOUT);
        if heartbeat_timeout.is_zero() {
            return Err(ConfigError::ZeroHeartbeatTimeout);
        }
        let limits = raw.limits.over(Limits::INTERNAL)?;
        Ok(Config {
            limits,
            listen,
            store,
            advertise: args
                .advertise
                .or(raw.advertise)
                .unwrap_or_else(|| listen.to_string()),
            leader_lease,
            cluster_secret: ClusterSecret::new(secret)?,
            heartbeat_timeout,
            gc_grace: args.gc_grace.or(raw.gc_grace).unwrap_or(DEFAULT_GC_GRACE),
            repair: RepairConfig {
                repair_after: args
                    .repair_after
                    .or(raw.repair_after)
                    .unwrap_or(DEFAULT_REPAIR_AFTER),
                scan_every: args
                    .repair_scan_every
                    .or(raw.repair_scan_every)
                    .unwrap_or(DEFAULT_SCAN_EVERY)
                    .max(Duration::from_millis(100)),
                rebalance_moves: args
                    .rebalance_moves
                    .or(raw.rebalance_moves)
                    .unwrap_or(DEFAULT_REBALANCE_MOVES),
            },
        })
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9100))
}

fn read_raw(path: &Path) -> Result<RawConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

fn read_secret(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    /// The example in `deploy/` stays a valid configuration.
    #[test]
    fn the_deploy_example_parses() {
        let raw: RawConfig = toml::from_str(include_str!("../../deploy/config/metadata.toml"))
            .expect("deploy/config/metadata.toml");
        assert_eq!(raw.gc_grace, Some(Duration::from_secs(3600)));
    }

    use super::*;
    use clap::Parser;

    const SECRET: &str = "0123456789abcdef0123";

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("metadata.toml");
        std::fs::write(
            &file,
            format!(
                "listen = \"0.0.0.0:7000\"\ndata_dir = \"/from/file\"\n\
                 cluster_secret = \"{SECRET}\"\nheartbeat_timeout = \"1500ms\"\n"
            ),
        )
        .unwrap();
        let args = Args::try_parse_from([
            "metadata",
            "--config",
            file.to_str().unwrap(),
            "--data-dir",
            "/from/flag",
        ])
        .unwrap();
        let c = Config::from_args(args).unwrap();
        assert_eq!(c.listen, "0.0.0.0:7000".parse().unwrap());
        assert!(matches!(
            &c.store,
            StoreConfig::Embedded { data_dir } if data_dir.as_path() == Path::new("/from/flag")
        ));
        assert_eq!(c.heartbeat_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn defaults_and_missing_values() {
        let secret_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(secret_file.path(), format!("{SECRET}\n")).unwrap();
        let args = Args::try_parse_from([
            "metadata",
            "--data-dir",
            "/d",
            "--cluster-secret-file",
            secret_file.path().to_str().unwrap(),
            "--heartbeat-timeout",
            "2s",
        ])
        .unwrap();
        let c = Config::from_args(args).unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(c.heartbeat_timeout, Duration::from_secs(2));

        let no_dir = Args {
            cluster_secret: Some(SECRET.into()),
            ..Args::default()
        };
        assert!(matches!(
            Config::from_args(no_dir),
            Err(ConfigError::MissingDataDir)
        ));
        let no_secret = Args {
            data_dir: Some("/d".into()),
            ..Args::default()
        };
        assert!(matches!(
            Config::from_raw(no_secret, RawConfig::default()),
            Err(ConfigError::MissingSecret)
        ));
        let short = Args {
            data_dir: Some("/d".into()),
            cluster_secret: Some("short".into()),
            ..Args::default()
        };
        assert!(matches!(
            Config::from_args(short),
            Err(ConfigError::Secret(_))
        ));
    }

    #[test]
    fn a_postgres_url_selects_postgres() {
        let url_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(url_file.path(), "postgres://u:p@db/tessera\n").unwrap();
        let args = Args::try_parse_from([
            "metadata",
            "--cluster-secret",
            SECRET,
            "--data-dir",
            "/ignored",
            "--postgres-url-file",
            url_file.path().to_str().unwrap(),
            "--postgres-pool-size",
            "4",
        ])
        .unwrap();
        let c = Config::from_args(args).unwrap();
        match c.store {
            StoreConfig::Postgres(o) => {
                assert_eq!(o.url, "postgres://u:p@db/tessera");
                assert_eq!(o.pool_size, 4);
            }
            other => panic!("expected PostgreSQL, got {other:?}"),
        }
        let raw: RawConfig =
            toml::from_str("postgres_url = \"postgres://db/x\"\nleader_lease = \"100ms\"\n")
                .unwrap();
        let args = Args {
            cluster_secret: Some(SECRET.into()),
            ..Args::default()
        };
        assert!(matches!(
            Config::from_raw(args, raw),
            Err(ConfigError::ShortLease)
        ));
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(toml::from_str::<RawConfig>("data_dirr = \"/x\"").is_err());
    }
}
