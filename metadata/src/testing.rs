//! Test support shared by this crate's tests, the end-to-end tests and the
//! benchmarks (feature `testing`): a throwaway PostgreSQL server.

pub mod postgres;
