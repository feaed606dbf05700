//! The storage node: the bytes of the object store.
//!
//! It owns shards on local disk, addressed by their BLAKE3 hash, written
//! atomically and verified on every read ([`shard_store`]); the HTTP API that
//! serves them behind the cluster secret ([`api`]) and its typed client
//! ([`client`]); heartbeats with capacity to the metadata service
//! ([`heartbeat`]); and the Reed-Solomon erasure codec ([`codec`]), which the
//! gateway and edge use to cut stripes and rebuild lost shards. For repair it
//! rebuilds shards the metadata service assigns it from survivors on its
//! peers ([`rebuild`], [`repair_worker`]), giving way to the shard requests
//! clients wait on ([`foreground`]), re-hashes what it stores
//! ([`scrubber`]) and reports files it should hold but lacks ([`inventory`]).
//!
//! It must not know about S3, buckets, objects or manifests: a shard is an
//! opaque run of bytes with a content hash for a name. Which shards make an
//! object, and where they live, is metadata's business.

#![deny(unsafe_code)]

pub mod api;
pub mod client;
pub mod codec;
pub mod config;
pub mod foreground;
pub mod heartbeat;
pub mod inventory;
pub mod latency;
pub mod metric_catalog;
pub mod node_identity;
pub mod rebuild;
pub mod repair_worker;
pub mod scrubber;
pub mod shard_store;
pub mod throttle;
pub mod wire;

mod server;

pub use client::{ShardError, StorageClient};
pub use codec::{Codec, CodecError};
pub use config::{Args, Config, ConfigError, RawConfig};
pub use server::{ServeError, run, serve};
pub use shard_store::shard_path;
