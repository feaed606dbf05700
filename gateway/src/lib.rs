//! The gateway: what an S3 operation means in this store, and object I/O.
//!
//! The S3 wire protocol (routing, SigV4, XML, error bodies) belongs to `s3s`;
//! this crate implements its `S3` trait with one handler per operation, grouped
//! by family (`bucket`, `object`, `list`). Under them, the striped writer and
//! reader turn object streams into erasure-coded stripes on storage nodes and
//! back. The gateway never touches a disk and never keeps an object in memory;
//! it reaches metadata and storage nodes only through their clients.

#![deny(unsafe_code)]

mod access;
mod auth;
mod bad_shards;
pub mod body_error;
mod bucket;
mod bucket_cache;
mod bucket_settings;
pub mod cache_control;
pub mod cache_status;
pub mod checksum;
mod conditions;
pub mod config;
mod copy;
pub mod cors;
mod crc_combine;
mod digest_pipe;
pub mod error;
mod head_queue;
pub mod layout;
pub mod limits;
mod list;
pub mod manifest_cache;
pub mod manifest_lease;
mod md5_engine;
#[doc(hidden)]
pub mod md5_lanes;
pub mod metric_catalog;
mod multipart;
mod multipart_checksum;
mod object;
pub mod object_io;
#[doc(hidden)]
pub mod parsers;
mod prefetch;
pub mod range;
mod reader;
pub mod response_body;
mod service;
pub mod shard_cache;
mod slow_nodes;
mod time_format;
pub mod topology;
mod upload_body;
pub mod url_encoding;
pub mod virtual_host;
mod writer;

use std::sync::Arc;

use metadata::client::MetadataClient;
use s3s::service::{S3Service, S3ServiceBuilder};
use storage_node::client::StorageClient;
use storage_node::codec::Codec;

pub use access::KeyAdmission;
pub use config::{Credential, GatewayConfig};
pub use error::GatewayError;
pub use service::Tessera;

use crate::object_io::ObjectIo;
use crate::topology::Topology;
use crate::virtual_host::VirtualHostDomains;

/// The largest control document (an XML request body: configuration,
/// DeleteObjects, CompleteMultipartUpload) read, and only after the request
/// is authenticated. S3's largest, CompleteMultipartUpload of 10,000 parts
/// with SHA-256 checksums or DeleteObjects of 1,000 keys of 1 KiB, fit.
pub const MAX_CONTROL_DOCUMENT: usize = 2 << 20;

/// What the protocol layer may read: control documents up to
/// [`MAX_CONTROL_DOCUMENT`]; browser form fields are never read (form
/// uploads are refused at the edge before their body), so they get the
/// least the protocol layer accepts.
fn protocol_limits() -> s3s::config::S3Config {
    let mut limits = s3s::config::S3Config::default();
    limits.xml_max_body_size = MAX_CONTROL_DOCUMENT;
    limits.post_object_max_file_size = 0;
    limits.form_max_field_size = 4096;
    limits.form_max_fields_size = 16 * 1024;
    limits.form_max_parts = 16;
    limits
}

/// The one key directory, shared by the signature check and the access
/// check (s3s takes each by value).
struct SharedKeys(Arc<auth::KeyDirectory>);

#[async_trait::async_trait]
impl s3s::auth::S3Auth for SharedKeys {
    async fn get_secret_key(&self, access_key: &str) -> s3s::S3Result<s3s::auth::SecretKey> {
        self.0.get_secret_key(access_key).await
    }
}

/// What the edge serves: the S3 service, and the bucket settings it needs
/// before a request reaches S3 (CORS preflights carry no signature).
pub struct Gateway {
    pub s3: S3Service,
    pub buckets: BucketSettings,
    pub hosts: VirtualHostDomains,
    /// The edge's caches, for the admin endpoint.
    pub caches: cache_control::CacheControl,
}

/// Bucket settings, read through the gateway's short-lived bucket cache.
#[derive(Clone)]
pub struct BucketSettings(Tessera);

impl BucketSettings {
    /// The bucket's CORS configuration; `None` when it has none, or when
    /// the name is not a bucket.
    pub async fn cors(&self, bucket: &str) -> Option<metadata::model::CorsConfig> {
        self.0.bucket_info(bucket).await.ok()?.cors
    }
}

/// Claims, with the metadata service, the name of each configured key's
/// user, so that `edge admin user create` cannot make a second user of that
/// name (who would sign for the same buckets). Retries until the metadata
/// service answers, as an edge may start before it. A name already taken by
/// an admin-made user is logged as an error: the operator must choose.
async fn claim_configured_users(configured: Vec<String>, meta: MetadataClient) {
    let mut names: Vec<metadata::ids::UserName> = configured
        .iter()
        .filter_map(|c| c.parse().ok()) // no admin-made user can have the others
        .collect();
    names.sort();
    names.dedup();
    let mut retry = std::time::Duration::from_millis(500);
    while !names.is_empty() {
        let mut pending = Vec::new();
        for name in names {
            match meta.claim_configured_user(&name).await {
                Ok(_) => {}
                Err(metadata::error::MetadataError::UserAlreadyExists) => tracing::error!(
                    user = %name,
                    "a key in this edge's configuration belongs to user {0}, and a user {0} was \
                     also made with `edge admin`: both sign for the same buckets; give the \
                     configured key another `user`, or delete the admin-made user",
                    name
                ),
                Err(e) => {
                    tracing::debug!(user = %name, error = %e, "claiming a configured user; retrying");
                    pending.push(name);
                }
            }
        }
        names = pending;
        if !names.is_empty() {
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(std::time::Duration::from_secs(10));
        }
    }
}

/// Builds the S3 service over a cluster: connects the node view and wires
/// authentication, access control (with `admission`, the per-key rate
/// limit, if any) and virtual-hosted addressing.
pub async fn gateway(
    config: GatewayConfig,
    meta: MetadataClient,
    storage: StorageClient,
    admission: Option<KeyAdmission>,
) -> Result<Gateway, GatewayError> {
    let hosts = VirtualHostDomains::new(&config.virtual_host_domains)
        .map_err(|e| GatewayError::Internal(e.to_string()))?;
    let codec = Codec::new(config.code)?;
    let topology = Topology::start(meta.clone(), config.topology_refresh, config.suspect_for).await;
    let keys = Arc::new(auth::KeyDirectory::new(&config.credentials, meta.clone()));
    tokio::spawn(claim_configured_users(
        config.credentials.iter().map(|c| c.user.clone()).collect(),
        meta.clone(),
    ));
    let io = Arc::new(ObjectIo {
        bad_shards: bad_shards::BadShardReports::new(meta.clone()),
        shards: shard_cache::ShardCache::new(&config.cache),
        manifests: manifest_cache::ManifestCache::new(
            meta.clone(),
            config.cache.manifest_bytes,
            config.cache.stale_if_error,
        ),
        prefetch: prefetch::Prefetcher::new(config.cache.prefetch_stripes),
        meta,
        storage,
        topology,
        codec,
        config,
    });
    let caches = cache_control::CacheControl(Arc::clone(&io));
    let tessera = Tessera::new(io);
    let mut builder = S3ServiceBuilder::new(tessera.clone());
    builder.set_auth(SharedKeys(keys.clone()));
    builder.set_access(access::Access { keys, admission });
    builder.set_host(hosts.clone());
    builder.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(
        protocol_limits(),
    ))));
    Ok(Gateway {
        s3: builder.build(),
        buckets: BucketSettings(tessera),
        hosts,
        caches,
    })
}
