//! The edge: the server people run. It serves the S3 API (the gateway's s3s
//! service) and, for the quick start and the tests, supervises a whole local
//! cluster of real processes. One binary carries every role, so a local
//! cluster needs nothing but this executable.

#![deny(unsafe_code)]

pub mod admin;
pub mod cli;
pub mod cluster_file;
pub mod config;
mod cors;
mod date_header;
mod expect_continue;
mod final_chunk;
mod if_range;
pub mod local_cluster;
mod memory;
#[doc(hidden)]
pub mod parsers;
mod presign_limits;
mod private_file;
mod purge;
mod query;
pub mod rate_limit;
mod refusals;
mod request_span;
pub mod server;
pub mod tls;
mod xml_guard;
