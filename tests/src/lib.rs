//! Shared by the end-to-end tests, the load generator and the failure drill:
//! an S3 client set up the way a user would set up aws-sdk-s3 against this
//! store, and the drill's parts ([`drill`]).

pub mod drill;

use std::time::Duration;

use aws_sdk_s3::config::{Credentials, Region, timeout::TimeoutConfig};

/// An aws-sdk-s3 client at its default settings (checksums, aws-chunked
/// bodies), pointed at `endpoint` with path-style addressing.
pub fn s3_client(endpoint: &str, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            access_key,
            secret_key,
            None,
            None,
            "tessera-tests",
        ))
        .force_path_style(true)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        )
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Where a benchmark sends its requests, and as whom (flags shared by the
/// load generators; the defaults are the local cluster's).
#[derive(Debug, Clone, clap::Args)]
pub struct Endpoint {
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = "tessera")]
    pub access_key: String,
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        default_value = "tessera-local-secret",
        hide_env_values = true
    )]
    pub secret_key: String,
}

impl Endpoint {
    pub fn client(&self) -> aws_sdk_s3::Client {
        s3_client(&self.endpoint, &self.access_key, &self.secret_key)
    }
}

/// Deterministic pseudo-random bytes, so a failure names a reproducible body.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The hex MD5 of a body: its S3 ETag without quotes.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(data))
}
