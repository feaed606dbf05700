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
mod bucket;
mod bucket_cache;
mod bucket_settings;
pub mod checksum;
mod conditions;
pub mod config;
mod copy;
mod digest_pipe;
pub mod error;
pub mod layout;
mod list;
mod multipart;
mod object;
pub mod object_io;
pub mod range;
mod reader;
pub mod response_body;
mod service;
mod time_format;
pub mod topology;
mod upload_body;
pub mod url_encoding;
mod writer;

use std::sync::Arc;

use metadata::client::MetadataClient;
use s3s::service::{S3Service, S3ServiceBuilder};
use storage_node::client::StorageClient;
use storage_node::codec::Codec;

pub use config::{Credential, GatewayConfig};
pub use error::GatewayError;
pub use service::Tessera;

use crate::object_io::ObjectIo;
use crate::topology::Topology;

/// The one key directory, shared by the signature check and the access
/// check (s3s takes each by value).
struct SharedKeys(Arc<auth::KeyDirectory>);

#[async_trait::async_trait]
impl s3s::auth::S3Auth for SharedKeys {
    async fn get_secret_key(&self, access_key: &str) -> s3s::S3Result<s3s::auth::SecretKey> {
        self.0.get_secret_key(access_key).await
    }
}

/// Builds the S3 service over a cluster: connects the node view and wires
/// authentication. Mount the result with axum's `fallback_service` (not under a
/// prefix: signatures cover the path).
pub async fn s3_service(
    config: GatewayConfig,
    meta: MetadataClient,
    storage: StorageClient,
) -> Result<S3Service, GatewayError> {
    let codec = Codec::new(config.code)?;
    let topology = Topology::start(meta.clone(), config.topology_refresh, config.suspect_for).await;
    let keys = Arc::new(auth::KeyDirectory::new(&config.credentials, meta.clone()));
    let io = Arc::new(ObjectIo {
        meta,
        storage,
        topology,
        codec,
        config,
    });
    let mut builder = S3ServiceBuilder::new(Tessera::new(io));
    builder.set_auth(SharedKeys(keys.clone()));
    builder.set_access(access::Access { keys });
    Ok(builder.build())
}
