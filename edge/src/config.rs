//! The edge's configuration: a TOML file and flags (flags win), validated into
//! an [`EdgeConfig`] before anything starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use gateway::config::{CacheConfig, EvictionPolicy};
use gateway::{Credential, GatewayConfig};
use metadata::byte_size::ByteSize;
use metadata::cluster_auth::ClusterSecret;
use metadata::ids::{AccessKeyId, UserName};
use metadata::model::ErasureCode;
use serde::Deserialize;

use crate::rate_limit::Limit;
use crate::tls::TlsFiles;
use listener::{Limits, RawLimits, TrustedProxies};

/// Flags of `edge serve`.
#[derive(Debug, Clone, Parser)]
pub struct ServeArgs {
    /// TOML config file; flags override its values.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address of the S3 endpoint.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Address of the admin endpoint (`/health`, `/metrics`).
    #[arg(long)]
    pub admin_listen: Option<SocketAddr>,
    /// Base URL of the metadata service.
    #[arg(long)]
    pub metadata_url: Option<String>,
    /// The cluster secret shared by every service.
    #[arg(long, env = "TESSERA_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// File holding the cluster secret.
    #[arg(long)]
    pub cluster_secret_file: Option<PathBuf>,
    /// An S3 access key (with --secret-key); more go in the config file.
    #[arg(long, env = "TESSERA_ACCESS_KEY")]
    pub access_key: Option<String>,
    /// The secret for --access-key.
    #[arg(long, env = "TESSERA_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Region clients sign for.
    #[arg(long)]
    pub region: Option<String>,
    /// Data shards per stripe for new objects.
    #[arg(long)]
    pub data_shards: Option<u8>,
    /// Parity shards per stripe for new objects.
    #[arg(long)]
    pub parity_shards: Option<u8>,
    /// Nominal shard size, e.g. 1MiB.
    #[arg(long)]
    pub shard_size: Option<ByteSize>,
    /// Objects up to this size are stored inline in metadata.
    #[arg(long)]
    pub inline_threshold: Option<ByteSize>,
    /// Requests per second per access key, `RATE` or `RATE/BURST` (default: no limit).
    #[arg(long)]
    pub rate_limit_per_key: Option<Limit>,
    /// Requests per second per client address, `RATE` or `RATE/BURST` (default: no limit).
    #[arg(long)]
    pub rate_limit_per_address: Option<Limit>,
    /// A domain for virtual-hosted-style requests (`bucket.DOMAIN`); repeat
    /// for several. Path style always works.
    #[arg(long = "virtual-host-domain")]
    pub virtual_host_domains: Vec<String>,
    /// Memory for cached shards, e.g. 4GiB; 0 turns the cache off
    /// [default: a quarter of the machine's memory].
    #[arg(long)]
    pub cache_size: Option<ByteSize>,
    /// Eviction policy of the shard cache: lru or tinylfu [default: lru].
    #[arg(long)]
    pub cache_policy: Option<EvictionPolicy>,
    /// Memory for cached object manifests [default: 64MiB].
    #[arg(long)]
    pub manifest_cache_size: Option<ByteSize>,
    /// How long a cached object may still be served while metadata is
    /// unreachable, e.g. 5m; 0s: never [default: 5m].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub stale_if_error: Option<Duration>,
    /// Stripes read ahead into the cache when an object is read in
    /// consecutive ranges; 0: never [default: 1].
    #[arg(long)]
    pub prefetch_stripes: Option<usize>,
    /// PEM certificate chain: the S3 endpoint speaks HTTPS (and HTTP/2).
    #[arg(long, env = "TESSERA_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "TESSERA_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// A load balancer (address or ADDRESS/PREFIX) whose `X-Forwarded-For`
    /// names the client; repeat for several [default: none].
    #[arg(long = "trusted-proxy")]
    pub trusted_proxies: Vec<String>,
}

/// The config file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEdgeConfig {
    /// Address of the S3 endpoint (default 127.0.0.1:9000).
    pub listen: Option<SocketAddr>,
    /// Address of the admin endpoint (default 127.0.0.1:9001).
    pub admin_listen: Option<SocketAddr>,
    /// Base URL of the metadata service (default http://127.0.0.1:9100).
    pub metadata_url: Option<String>,
    /// The cluster secret (prefer `cluster_secret_file`).
    pub cluster_secret: Option<String>,
    /// File holding the cluster secret.
    pub cluster_secret_file: Option<PathBuf>,
    /// Region clients sign for (default us-east-1).
    pub region: Option<String>,
    /// S3 credentials accepted by this edge.
    #[serde(default)]
    pub credentials: Vec<RawCredential>,
    /// Domains for virtual-hosted-style requests (`bucket.<domain>`).
    #[serde(default)]
    pub virtual_host_domains: Vec<String>,
    /// Data shards per stripe (default 4).
    pub data_shards: Option<u8>,
    /// Parity shards per stripe (default 2).
    pub parity_shards: Option<u8>,
    /// Nominal shard size (default 1MiB).
    pub shard_size: Option<ByteSize>,
    /// Objects up to this size live inline in metadata (default 16KiB).
    pub inline_threshold: Option<ByteSize>,
    /// Stripes of one upload encoded and written at once (default 3).
    pub stripes_in_flight: Option<usize>,
    /// Stripes of one download fetched ahead (default 2).
    pub read_ahead_stripes: Option<usize>,
    /// How often the node list is refreshed (default 1s).
    #[serde(default, with = "humantime_serde")]
    pub topology_refresh: Option<Duration>,
    /// Requests per second per access key, "RATE" or "RATE/BURST" (default: none).
    pub rate_limit_per_key: Option<String>,
    /// Requests per second per client address, "RATE" or "RATE/BURST" (default: none).
    pub rate_limit_per_address: Option<String>,
    /// Memory for cached shards (default: a quarter of the machine's memory; 0: off).
    pub cache_size: Option<ByteSize>,
    /// "lru" or "tinylfu" (default lru).
    pub cache_policy: Option<String>,
    /// Memory for cached object manifests (default 64MiB).
    pub manifest_cache_size: Option<ByteSize>,
    /// Serve cached objects this long while metadata is unreachable (default 5m).
    #[serde(default, with = "humantime_serde")]
    pub stale_if_error: Option<Duration>,
    /// Stripes read ahead for consecutive ranged reads (default 1; 0: off).
    pub prefetch_stripes: Option<usize>,
    /// PEM certificate chain, leaf first: with `tls_key`, the S3 endpoint
    /// speaks HTTPS and HTTP/2 instead of plain HTTP (reloaded on SIGHUP).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Load balancers (addresses or ADDRESS/PREFIX networks) whose
    /// `X-Forwarded-For` is believed for per-address limits; they are also
    /// exempt from the per-address connection cap.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Limits of the S3 port (see `listener::RawLimits`).
    #[serde(default)]
    pub limits: RawLimits,
    /// Limits of the admin port.
    #[serde(default)]
    pub admin_limits: RawLimits,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCredential {
    /// The access key id.
    pub access_key: String,
    /// Its secret (or `secret_key_file`).
    pub secret_key: Option<String>,
    /// File holding the secret.
    pub secret_key_file: Option<PathBuf>,
    /// The user it signs for (default: the access key itself).
    pub user: Option<String>,
}

/// A validated edge configuration.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub metadata_url: String,
    pub cluster_secret: ClusterSecret,
    pub gateway: GatewayConfig,
    /// Over these, requests get `503 SlowDown`.
    pub rate_limit_per_key: Option<Limit>,
    pub rate_limit_per_address: Option<Limit>,
    /// HTTPS on the S3 endpoint; `None` is plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Timeouts and caps of the S3 port.
    pub limits: Limits,
    /// Timeouts and caps of the admin port.
    pub admin_limits: Limits,
    /// Load balancers believed about the client's address.
    pub trusted_proxies: TrustedProxies,
}

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
    #[error("{0}")]
    Invalid(String),
}

fn read_secret(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })
}

impl EdgeConfig {
    pub fn from_args(args: ServeArgs) -> Result<Self, ConfigError> {
        let raw = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.clone(),
                    source: Box::new(source),
                })?
            }
            None => RawEdgeConfig::default(),
        };
        Self::from_raw(raw, args)
    }

    pub fn from_raw(raw: RawEdgeConfig, args: ServeArgs) -> Result<Self, ConfigError> {
        let secret = match (
            args.cluster_secret,
            args.cluster_secret_file,
            raw.cluster_secret,
            raw.cluster_secret_file,
        ) {
            (Some(s), _, _, _) => s,
            (None, Some(f), _, _) => read_secret(&f)?,
            (None, None, Some(s), _) => s,
            (None, None, None, Some(f)) => read_secret(&f)?,
            _ => {
                return Err(ConfigError::Invalid(
                    "a cluster secret is required (--cluster-secret, TESSERA_CLUSTER_SECRET or --cluster-secret-file)".into(),
                ));
            }
        };
        let cluster_secret =
            ClusterSecret::new(secret).map_err(|e| ConfigError::Invalid(e.to_string()))?;

        let mut credentials = Vec::new();
        for c in raw.credentials {
            let secret_key = match (c.secret_key, c.secret_key_file) {
                (Some(s), _) => s,
                (None, Some(f)) => read_secret(&f)?,
                (None, None) => {
                    return Err(ConfigError::Invalid(format!(
                        "credential {} has no secret_key",
                        c.access_key
                    )));
                }
            };
            credentials.push(Credential {
                user: c.user.unwrap_or_else(|| c.access_key.clone()),
                access_key: c.access_key,
                secret_key,
            });
        }
        match (args.access_key, args.secret_key) {
            (Some(access_key), Some(secret_key)) => credentials.push(Credential {
                user: access_key.clone(),
                access_key,
                secret_key,
            }),
            (None, None) => {}
            _ => {
                return Err(ConfigError::Invalid(
                    "--access-key and --secret-key go together".into(),
                ));
            }
        }
        // No configured credentials is fine: keys issued by `edge admin`
        // live in metadata.
        for c in &credentials {
            if let Err(e) = c.access_key.parse::<AccessKeyId>() {
                return Err(ConfigError::Invalid(format!("credential: {e}")));
            }
            if let Err(e) = c.user.parse::<UserName>() {
                return Err(ConfigError::Invalid(format!(
                    "credential {}: {e}",
                    c.access_key
                )));
            }
            if c.secret_key.len() < 8 {
                return Err(ConfigError::Invalid(format!(
                    "credential {}: the secret must be at least 8 characters",
                    c.access_key
                )));
            }
        }

        let limit =
            |flag: Option<Limit>, file: Option<String>| -> Result<Option<Limit>, ConfigError> {
                match (flag, file) {
                    (Some(l), _) => Ok(Some(l)),
                    (None, Some(s)) => s.parse().map(Some).map_err(ConfigError::Invalid),
                    (None, None) => Ok(None),
                }
            };
        let rate_limit_per_key = limit(args.rate_limit_per_key, raw.rate_limit_per_key)?;
        let rate_limit_per_address =
            limit(args.rate_limit_per_address, raw.rate_limit_per_address)?;
        let defaults = GatewayConfig::default();
        let code = ErasureCode {
            data: args
                .data_shards
                .or(raw.data_shards)
                .unwrap_or(defaults.code.data),
            parity: args
                .parity_shards
                .or(raw.parity_shards)
                .unwrap_or(defaults.code.parity),
        };
        if code.data == 0 || code.parity == 0 || code.total() > 255 {
            return Err(ConfigError::Invalid(format!(
                "erasure code {}+{} is not valid: data and parity must be at least 1",
                code.data, code.parity
            )));
        }
        let shard_size = args
            .shard_size
            .or(raw.shard_size)
            .map_or(defaults.shard_size, ByteSize::as_usize);
        if !(4096..=(64 << 20)).contains(&shard_size) {
            return Err(ConfigError::Invalid(
                "shard_size must be between 4KiB and 64MiB".into(),
            ));
        }
        let inline_threshold = args
            .inline_threshold
            .or(raw.inline_threshold)
            .map_or(defaults.inline_threshold, ByteSize::as_usize);
        if inline_threshold > (1 << 20) {
            return Err(ConfigError::Invalid(
                "inline_threshold must be at most 1MiB: inline objects live in metadata".into(),
            ));
        }
        let cache_defaults = CacheConfig::default();
        let cache = CacheConfig {
            shard_bytes: args
                .cache_size
                .or(raw.cache_size)
                .map_or_else(crate::memory::default_cache_size, |b| b.0),
            policy: match (args.cache_policy, raw.cache_policy) {
                (Some(p), _) => p,
                (None, Some(p)) => p.parse().map_err(ConfigError::Invalid)?,
                (None, None) => cache_defaults.policy,
            },
            manifest_bytes: args
                .manifest_cache_size
                .or(raw.manifest_cache_size)
                .map_or(cache_defaults.manifest_bytes, |b| b.0),
            stale_if_error: args
                .stale_if_error
                .or(raw.stale_if_error)
                .unwrap_or(cache_defaults.stale_if_error),
            prefetch_stripes: args
                .prefetch_stripes
                .or(raw.prefetch_stripes)
                .unwrap_or(cache_defaults.prefetch_stripes),
        };
        let gateway = GatewayConfig {
            code,
            shard_size,
            inline_threshold,
            stripes_in_flight: raw
                .stripes_in_flight
                .unwrap_or(defaults.stripes_in_flight)
                .max(1),
            read_ahead_stripes: raw
                .read_ahead_stripes
                .unwrap_or(defaults.read_ahead_stripes)
                .max(1),
            topology_refresh: raw.topology_refresh.unwrap_or(defaults.topology_refresh),
            suspect_for: defaults.suspect_for,
            credentials,
            region: args.region.or(raw.region).unwrap_or(defaults.region),
            virtual_host_domains: if args.virtual_host_domains.is_empty() {
                raw.virtual_host_domains
            } else {
                args.virtual_host_domains
            },
            cache,
        };
        gateway::virtual_host::VirtualHostDomains::new(&gateway.virtual_host_domains)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let tls = match (args.tls_cert.or(raw.tls_cert), args.tls_key.or(raw.tls_key)) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "tls_cert and tls_key go together".into(),
                ));
            }
        };
        let trusted_proxies = TrustedProxies::parse(if args.trusted_proxies.is_empty() {
            &raw.trusted_proxies
        } else {
            &args.trusted_proxies
        })
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let limits = raw
            .limits
            .over(Limits::PUBLIC)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let admin_limits = raw
            .admin_limits
            .over(Limits::ADMIN)
            .map_err(|e| ConfigError::Invalid(format!("admin_{e}")))?;
        Ok(EdgeConfig {
            listen: args
                .listen
                .or(raw.listen)
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9000))),
            admin_listen: args
                .admin_listen
                .or(raw.admin_listen)
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9001))),
            metadata_url: args
                .metadata_url
                .or(raw.metadata_url)
                .unwrap_or_else(|| "http://127.0.0.1:9100".to_owned()),
            cluster_secret,
            gateway,
            rate_limit_per_key,
            rate_limit_per_address,
            tls,
            limits,
            admin_limits,
            trusted_proxies,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in `deploy/` stays a valid configuration.
    #[test]
    fn the_deploy_example_parses() {
        let text = include_str!("../../deploy/config/edge.toml");
        let raw: RawEdgeConfig = toml::from_str(text).expect("deploy/config/edge.toml");
        assert_eq!(raw.virtual_host_domains, ["s3.example.com"]);
        assert_eq!(raw.credentials[0].user.as_deref(), Some("media"));
    }

    fn args(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["serve", "--cluster-secret", "a-cluster-secret-0123"];
        argv.extend_from_slice(extra);
        ServeArgs::parse_from(argv)
    }

    /// The certificate and key may come from the file, the flags or one
    /// each; one without the other is refused.
    #[test]
    fn tls_needs_both_files_from_wherever() {
        let plain = EdgeConfig::from_raw(RawEdgeConfig::default(), args(&[])).expect("valid");
        assert_eq!(plain.tls, None);

        let raw = RawEdgeConfig {
            tls_cert: Some("/etc/tls/cert.pem".into()),
            ..RawEdgeConfig::default()
        };
        let mixed = EdgeConfig::from_raw(raw, args(&["--tls-key", "/run/key.pem"])).expect("valid");
        assert_eq!(
            mixed.tls,
            Some(TlsFiles {
                cert: "/etc/tls/cert.pem".into(),
                key: "/run/key.pem".into(),
            })
        );

        let half = EdgeConfig::from_raw(RawEdgeConfig::default(), args(&["--tls-cert", "/c.pem"]));
        assert!(matches!(half, Err(ConfigError::Invalid(_))));
    }

    /// Limits default per port; the file overrides them, and trusted
    /// proxies come from the flags or the file.
    #[test]
    fn limits_and_trusted_proxies() {
        let plain = EdgeConfig::from_raw(RawEdgeConfig::default(), args(&[])).expect("valid");
        assert_eq!(plain.limits, Limits::PUBLIC);
        assert_eq!(plain.admin_limits, Limits::ADMIN);
        assert!(!plain.trusted_proxies.contains("10.0.0.1".parse().unwrap()));
        let raw: RawEdgeConfig = toml::from_str(
            "trusted_proxies = [\"10.0.0.0/8\"]\n[limits]\nheader_timeout = \"5s\"\n",
        )
        .expect("parses");
        let c = EdgeConfig::from_raw(raw, args(&[])).expect("valid");
        assert_eq!(c.limits.header_timeout, Duration::from_secs(5));
        assert!(c.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        let flags = EdgeConfig::from_raw(
            RawEdgeConfig::default(),
            args(&["--trusted-proxy", "192.0.2.1"]),
        )
        .expect("valid");
        assert!(flags.trusted_proxies.contains("192.0.2.1".parse().unwrap()));
        let bad = EdgeConfig::from_raw(RawEdgeConfig::default(), args(&["--trusted-proxy", "lb"]));
        assert!(matches!(bad, Err(ConfigError::Invalid(_))));
    }
}
