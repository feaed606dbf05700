//! A storage node's configuration: flags ([`Args`]) over an optional TOML file
//! ([`RawConfig`]), checked into a [`Config`] by [`Config::from_raw`].
//!
//! Every flag is optional at the clap level and defaults are applied only
//! after merging, so a value from the config file is never overridden by a
//! flag's default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use listener::{Limits, RawLimits};
use metadata::cluster_auth::ClusterSecret;
use metadata::ids::NodeId;
use serde::Deserialize;

/// Sizes are the workspace's one size type, so every service parses `64MiB` alike.
pub use metadata::byte_size::ByteSize;

use crate::shard_store::DEFAULT_MAX_SHARD_SIZE;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9101";
pub const DEFAULT_METADATA_URL: &str = "http://127.0.0.1:9100";
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Reads hold a whole shard in memory to verify it before sending a byte, so
/// shards stay far below what a node's memory could hold many of at once.
pub const MAX_MAX_SHARD_SIZE: u64 = 1 << 30;

/// Command-line flags of `storage-node` (also `edge storage-node`).
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(
    name = "storage-node",
    about = "Tessera storage node: stores erasure-coded shards on local disk."
)]
pub struct Args {
    /// TOML config file; flags override its values.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:9101].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// host:port that peers and gateways use to reach this node [default: the bound address].
    #[arg(long, value_name = "HOST:PORT")]
    pub advertise: Option<String>,
    /// Folder for shards and the node's identity (required here or in the config file).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The node's id [default: the one stored in the data folder, or a new random one].
    #[arg(long, value_name = "ID")]
    pub node_id: Option<NodeId>,
    /// Failure domain (rack, host, room) for placement.
    #[arg(long)]
    pub zone: Option<String>,
    /// Base URL of the metadata service [default: http://127.0.0.1:9100].
    #[arg(long, value_name = "URL")]
    pub metadata_url: Option<String>,
    /// Shared secret of the cluster (at least 16 characters).
    #[arg(long, env = "TESSERA_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// File holding the cluster secret.
    #[arg(long, value_name = "FILE")]
    pub cluster_secret_file: Option<PathBuf>,
    /// How often to report to the metadata service, like `1s` or `500ms` [default: 1s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub heartbeat_interval: Option<Duration>,
    /// Bytes this node may fill, like `100GiB` [default: the filesystem's size].
    #[arg(long, value_name = "SIZE")]
    pub capacity: Option<ByteSize>,
    /// Largest shard accepted [default: 64MiB].
    #[arg(long, value_name = "SIZE")]
    pub max_shard_size: Option<ByteSize>,
    /// Shards rebuilt at once for repair [default: 4].
    #[arg(long, value_name = "N", env = "TESSERA_REPAIR_CONCURRENCY")]
    pub repair_concurrency: Option<usize>,
    /// Bytes per second this node reads from peers to rebuild shards, like
    /// `16MiB` [default: 16MiB].
    #[arg(long, value_name = "SIZE", env = "TESSERA_REPAIR_BANDWIDTH")]
    pub repair_bandwidth: Option<ByteSize>,
    /// Longest each step of a rebuild waits for this node's foreground
    /// shard requests to finish, like `50ms`; `0s` never waits [default: 50ms].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, env = "TESSERA_REPAIR_YIELD")]
    pub repair_yield: Option<Duration>,
    /// Bytes per second the scrubber re-reads and re-hashes; `0` turns
    /// scrubbing off [default: 16MiB].
    #[arg(long, value_name = "SIZE")]
    pub scrub_rate: Option<ByteSize>,
    /// Pause between scrub passes, like `1h` [default: 1h].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub scrub_pause: Option<Duration>,
}

/// The config file, as written. Every field is optional; see [`Config`] for
/// the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Address to listen on, like `0.0.0.0:9101`.
    pub listen: Option<SocketAddr>,
    /// `host:port` that peers and gateways use to reach this node; needed
    /// when listening on `0.0.0.0` or behind NAT.
    pub advertise: Option<String>,
    /// Folder for shards and the node's identity; one disk per node.
    pub data_dir: Option<PathBuf>,
    /// The node's id. Normally left out: the node generates one at first
    /// start and keeps it in `<data_dir>/node_id`.
    pub node_id: Option<NodeId>,
    /// Failure domain (rack, host, room): placement spreads a stripe across zones.
    pub zone: Option<String>,
    /// Base URL of the metadata service, like `http://10.0.0.1:9100`.
    pub metadata_url: Option<String>,
    /// The cluster secret inline. Prefer `cluster_secret_file`.
    pub cluster_secret: Option<String>,
    /// File holding the cluster secret (surrounding whitespace is ignored).
    pub cluster_secret_file: Option<PathBuf>,
    /// How often to report capacity and liveness to metadata, like `"1s"`.
    #[serde(default, with = "humantime_serde")]
    pub heartbeat_interval: Option<Duration>,
    /// Bytes this node may fill, like `"100GiB"`; default the filesystem's size.
    pub capacity: Option<ByteSize>,
    /// Largest shard accepted, like `"64MiB"`.
    pub max_shard_size: Option<ByteSize>,
    /// Shards rebuilt at once for repair.
    pub repair_concurrency: Option<usize>,
    /// Bytes per second read from peers to rebuild shards, like `"16MiB"`.
    pub repair_bandwidth: Option<ByteSize>,
    /// Longest a rebuild step waits for foreground requests, like `"50ms"`.
    #[serde(default, with = "humantime_serde")]
    pub repair_yield: Option<Duration>,
    /// Bytes per second the scrubber re-hashes, like `"16MiB"`; `"0"` is off.
    pub scrub_rate: Option<ByteSize>,
    /// Pause between scrub passes, like `"1h"`.
    #[serde(default, with = "humantime_serde")]
    pub scrub_pause: Option<Duration>,
    /// Timeouts and connection caps of the API port (`[limits]`).
    #[serde(default)]
    pub limits: RawLimits,
}

impl RawConfig {
    /// Parses a config file's text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))
    }

    /// Flags win over the file. The secret sources are resolved in
    /// [`Config::from_raw`] in the order flag/env, flag file, file, file's file.
    pub fn with_args(self, args: &Args) -> Self {
        let a = args.clone();
        RawConfig {
            listen: a.listen.or(self.listen),
            advertise: a.advertise.or(self.advertise),
            data_dir: a.data_dir.or(self.data_dir),
            node_id: a.node_id.or(self.node_id),
            zone: a.zone.or(self.zone),
            metadata_url: a.metadata_url.or(self.metadata_url),
            cluster_secret: a.cluster_secret.or(self.cluster_secret),
            cluster_secret_file: a.cluster_secret_file.or(self.cluster_secret_file),
            heartbeat_interval: a.heartbeat_interval.or(self.heartbeat_interval),
            capacity: a.capacity.or(self.capacity),
            max_shard_size: a.max_shard_size.or(self.max_shard_size),
            repair_concurrency: a.repair_concurrency.or(self.repair_concurrency),
            repair_bandwidth: a.repair_bandwidth.or(self.repair_bandwidth),
            repair_yield: a.repair_yield.or(self.repair_yield),
            scrub_rate: a.scrub_rate.or(self.scrub_rate),
            scrub_pause: a.scrub_pause.or(self.scrub_pause),
            limits: self.limits,
        }
    }
}

/// The checked configuration that [`crate::serve`] runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// `None`: advertise the address actually bound.
    pub advertise: Option<String>,
    pub data_dir: PathBuf,
    /// `None`: use the id in the data folder, or make one.
    pub node_id: Option<NodeId>,
    pub zone: Option<String>,
    pub metadata_url: String,
    pub cluster_secret: ClusterSecret,
    pub heartbeat_interval: Duration,
    /// `None`: the size of the data folder's filesystem.
    pub capacity: Option<u64>,
    pub max_shard_size: u64,
    pub repair_concurrency: usize,
    /// Bytes per second.
    pub repair_bandwidth: u64,
    /// See [`crate::foreground`]; zero never waits.
    pub repair_yield: Duration,
    /// Bytes per second; 0 turns scrubbing off.
    pub scrub_rate: u64,
    pub scrub_pause: Duration,
    /// Timeouts and connection caps of the API port.
    pub limits: Limits,
}

pub const DEFAULT_REPAIR_CONCURRENCY: usize = 4;
/// Bytes per second a node reads from peers for rebuilds: four times what
/// it rebuilds (a 4+2 shard takes four survivors). On the 2-core benchmark
/// machine 16 MiB/s kept foreground read p99 under 2x the fault-free p99
/// during a rebuild, where 64 MiB/s made it 9x (README, "Rebuilding a
/// lost node"); a cluster of dedicated machines can afford more.
pub const DEFAULT_REPAIR_BANDWIDTH: u64 = 16 << 20;
pub const DEFAULT_REPAIR_YIELD: Duration = Duration::from_millis(50);
pub const DEFAULT_SCRUB_RATE: u64 = 16 << 20;
pub const DEFAULT_SCRUB_PAUSE: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {cause}")]
    ReadFile {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("config file: {0}")]
    Toml(String),
    #[error("{0} is required (flag or config file)")]
    Missing(&'static str),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl Config {
    /// A config with every default, for tests and the one-command cluster.
    pub fn new(data_dir: impl Into<PathBuf>, cluster_secret: ClusterSecret) -> Self {
        Config {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 9101))),
            advertise: None,
            data_dir: data_dir.into(),
            node_id: None,
            zone: None,
            metadata_url: DEFAULT_METADATA_URL.to_owned(),
            cluster_secret,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            capacity: None,
            max_shard_size: DEFAULT_MAX_SHARD_SIZE,
            repair_concurrency: DEFAULT_REPAIR_CONCURRENCY,
            repair_bandwidth: DEFAULT_REPAIR_BANDWIDTH,
            repair_yield: DEFAULT_REPAIR_YIELD,
            scrub_rate: DEFAULT_SCRUB_RATE,
            scrub_pause: DEFAULT_SCRUB_PAUSE,
            limits: Limits::INTERNAL,
        }
    }

    /// Reads the config file named by `--config` (if any), applies the flags
    /// over it and checks the result.
    pub fn load(args: &Args) -> Result<Self, ConfigError> {
        let raw = match &args.config {
            Some(path) => RawConfig::from_toml(&read_file(path)?)?,
            None => RawConfig::default(),
        };
        Self::from_raw(raw.with_args(args))
    }

    /// Checks and fills in defaults. Reads the secret file if one is named.
    pub fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        let data_dir = raw.data_dir.ok_or(ConfigError::Missing("data_dir"))?;
        if data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "empty path"));
        }
        let secret_text = match (raw.cluster_secret, raw.cluster_secret_file) {
            (Some(s), _) => s,
            (None, Some(path)) => read_file(&path)?,
            (None, None) => return Err(ConfigError::Missing("cluster_secret")),
        };
        let cluster_secret = ClusterSecret::new(secret_text)
            .map_err(|e| invalid("cluster_secret", e.to_string()))?;

        if let Some(advertise) = &raw.advertise {
            check_host_port(advertise).map_err(|r| invalid("advertise", r))?;
        }
        let metadata_url = raw
            .metadata_url
            .unwrap_or_else(|| DEFAULT_METADATA_URL.to_owned());
        if !metadata_url.starts_with("http://") {
            return Err(invalid(
                "metadata_url",
                format!("{metadata_url:?}: expected http://host:port"),
            ));
        }
        let zone = match raw.zone.map(|z| z.trim().to_owned()) {
            Some(z) if z.is_empty() => return Err(invalid("zone", "empty")),
            z => z,
        };
        let heartbeat_interval = raw.heartbeat_interval.unwrap_or(DEFAULT_HEARTBEAT_INTERVAL);
        if heartbeat_interval < Duration::from_millis(10)
            || heartbeat_interval > Duration::from_secs(3600)
        {
            return Err(invalid("heartbeat_interval", "must be between 10ms and 1h"));
        }
        let max_shard_size = raw
            .max_shard_size
            .map_or(DEFAULT_MAX_SHARD_SIZE, ByteSize::as_u64);
        if max_shard_size == 0 || max_shard_size > MAX_MAX_SHARD_SIZE {
            return Err(invalid(
                "max_shard_size",
                format!(
                    "must be between 1 byte and {}",
                    ByteSize(MAX_MAX_SHARD_SIZE)
                ),
            ));
        }
        let capacity = raw.capacity.map(ByteSize::as_u64);
        if capacity == Some(0) {
            return Err(invalid("capacity", "must be more than 0"));
        }
        let repair_concurrency = raw.repair_concurrency.unwrap_or(DEFAULT_REPAIR_CONCURRENCY);
        if !(1..=256).contains(&repair_concurrency) {
            return Err(invalid("repair_concurrency", "must be between 1 and 256"));
        }
        let repair_bandwidth = raw
            .repair_bandwidth
            .map_or(DEFAULT_REPAIR_BANDWIDTH, ByteSize::as_u64);
        if repair_bandwidth < 1 << 20 {
            return Err(invalid("repair_bandwidth", "must be at least 1MiB"));
        }
        let listen = match raw.listen {
            Some(l) => l,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|_| invalid("listen", DEFAULT_LISTEN))?,
        };
        Ok(Config {
            listen,
            advertise: raw.advertise,
            data_dir,
            node_id: raw.node_id,
            zone,
            metadata_url,
            cluster_secret,
            heartbeat_interval,
            capacity,
            max_shard_size,
            repair_concurrency,
            repair_bandwidth,
            repair_yield: raw.repair_yield.unwrap_or(DEFAULT_REPAIR_YIELD),
            scrub_rate: raw.scrub_rate.map_or(DEFAULT_SCRUB_RATE, ByteSize::as_u64),
            scrub_pause: raw.scrub_pause.unwrap_or(DEFAULT_SCRUB_PAUSE),
            limits: raw
                .limits
                .over(Limits::INTERNAL)
                .map_err(|e| invalid("limits", e.to_string()))?,
        })
    }
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|cause| ConfigError::ReadFile {
        path: path.to_owned(),
        cause,
    })
}

/// `host:port` with a non-empty host and a non-zero port (`[v6]:port` too).
fn check_host_port(s: &str) -> Result<(), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?}: expected host:port"))?;
    if host.is_empty() || host.contains('/') {
        return Err(format!("{s:?}: expected host:port"));
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok(()),
        _ => Err(format!("{s:?}: bad port")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    const SECRET: &str = "0123456789abcdef-test";

    #[test]
    fn file_then_flags_then_defaults() {
        let raw = RawConfig::from_toml(
            r#"
            data_dir = "/srv/disk1"
            listen = "0.0.0.0:9200"
            advertise = "10.0.0.5:9200"
            zone = "rack-a"
            cluster_secret = "0123456789abcdef-from-file"
            heartbeat_interval = "250ms"
            capacity = "100GiB"
            "#,
        )
        .unwrap();
        let args = Args::try_parse_from([
            "storage-node",
            "--zone",
            "rack-b",
            "--max-shard-size",
            "8MiB",
            "--cluster-secret",
            SECRET,
        ])
        .unwrap();
        let c = Config::from_raw(raw.with_args(&args)).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:9200");
        assert_eq!(c.advertise.as_deref(), Some("10.0.0.5:9200"));
        assert_eq!(c.zone.as_deref(), Some("rack-b"));
        assert_eq!(c.heartbeat_interval, Duration::from_millis(250));
        assert_eq!(c.capacity, Some(100 << 30));
        assert_eq!(c.max_shard_size, 8 << 20);
        assert_eq!(c.metadata_url, DEFAULT_METADATA_URL);
        assert!(c.node_id.is_none());
    }

    #[test]
    fn the_deploy_example_parses() {
        let raw = RawConfig::from_toml(include_str!(
            "../../../deploy/config/storage-node-disk1.toml"
        ))
        .expect("deploy/config/storage-node-disk1.toml");
        assert_eq!(raw.limits.over(Limits::INTERNAL), Ok(Limits::INTERNAL));
    }

    #[test]
    fn refuses_bad_config() {
        let base = || RawConfig {
            data_dir: Some("/tmp/x".into()),
            cluster_secret: Some(SECRET.into()),
            ..RawConfig::default()
        };
        assert!(Config::from_raw(base()).is_ok());
        let missing_dir = RawConfig {
            data_dir: None,
            ..base()
        };
        assert!(matches!(
            Config::from_raw(missing_dir),
            Err(ConfigError::Missing("data_dir"))
        ));
        let short_secret = RawConfig {
            cluster_secret: Some("short".into()),
            ..base()
        };
        assert!(Config::from_raw(short_secret).is_err());
        let no_secret = RawConfig {
            cluster_secret: None,
            ..base()
        };
        assert!(Config::from_raw(no_secret).is_err());
        for adv in ["nohost", ":9000", "host:0", "host:x"] {
            let r = RawConfig {
                advertise: Some(adv.into()),
                ..base()
            };
            assert!(Config::from_raw(r).is_err(), "{adv}");
        }
        let big = RawConfig {
            max_shard_size: Some(ByteSize(2 << 30)),
            ..base()
        };
        assert!(Config::from_raw(big).is_err());
        assert!(RawConfig::from_toml("unknown_field = 1").is_err());
    }

    #[test]
    fn secret_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, format!("{SECRET}\n")).unwrap();
        let raw = RawConfig {
            data_dir: Some(dir.path().into()),
            cluster_secret_file: Some(path),
            ..RawConfig::default()
        };
        let c = Config::from_raw(raw).unwrap();
        assert!(c.cluster_secret.verify(&{
            let mut h = http::HeaderMap::new();
            h.insert(
                http::header::AUTHORIZATION,
                http::HeaderValue::from_str(&format!("Bearer {SECRET}")).unwrap(),
            );
            h
        }));
    }
}
