//! The metadata service: the names of everything. Buckets, object versions and
//! their manifests (which stripes, which shards, on which nodes), multipart
//! uploads and their parts, node membership with heartbeats, and placement.
//!
//! It owns no object bytes beyond small inline objects, and it never talks to
//! storage nodes: they report to it. Its storage sits behind [`store::MetaStore`]
//! so that the embedded default and a database backend share every caller.
//!
//! Map: [`store`] (the trait, the redb backend with group commit), [`listing`]
//! (S3 listing over any store), [`placement`] (rendezvous hashing over zones),
//! [`registry`] (node liveness), [`api`] (the internal HTTP/JSON API) and
//! [`client`] (its typed client; the only way other crates reach metadata),
//! [`config`] and [`server`] (flags, file, `serve`, `run`).

#![deny(unsafe_code)]

pub use config::{Args, Config};
pub use server::{ServeError, run, serve};

pub mod api;
pub mod byte_size;
pub mod change_feed;
pub mod client;
pub mod cluster_auth;
pub mod collector;
pub mod config;
pub mod copy_command;
pub mod error;
pub mod ids;
pub mod instance;
pub mod leader;
pub mod lifecycle;
pub mod listing;
pub mod metric_catalog;
pub mod metrics_upkeep;
pub mod model;
pub mod placement;
pub mod registry;
pub mod repair;
pub mod server;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod wire;
