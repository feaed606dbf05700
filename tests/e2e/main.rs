//! End-to-end tests: real processes on loopback, driven by aws-sdk-s3, by
//! raw HTTP where the SDK would not send what we need, and by the mainstream
//! S3 command-line clients (`client_compat`).

mod browser_video;
mod chromium;
mod client_compat;
mod deploy_layout;
mod disk_full;
mod drill;
mod durability;
mod edge_cache;
mod edge_tls;
mod front_door;
mod garbage_collection;
mod harness;
mod http_semantics;
mod metadata_replicas;
mod operator_errors;
mod raw_chunked;
mod raw_sigv4;
mod rebalance;
mod repair;
mod s3_access;
mod s3_bad_input;
mod s3_buckets;
mod s3_checksums;
mod s3_cors_and_hosts;
mod s3_errors;
mod s3_limits;
mod s3_listing;
mod s3_multipart;
mod s3_objects;
mod s3_raw_streaming;
mod self_signed;
