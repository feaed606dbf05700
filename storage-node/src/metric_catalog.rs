//! A storage node's integrity and collection counters, described and
//! registered at zero when it starts, so `/metrics` shows them before the
//! first event.

const COUNTERS: [(&str, &str); 4] = [
    (
        "shard_gets_total",
        "Shards read and served (verified) from this node's disk.",
    ),
    (
        "shard_corrupt_total",
        "Stored shards that failed their hash when read and were quarantined.",
    ),
    (
        "shards_collected_total",
        "Unreferenced shard files deleted at the metadata service's request.",
    ),
    (
        "heartbeat_failures_total",
        "Heartbeats that did not reach the metadata service.",
    ),
];

/// Describes the counters to the installed recorder.
pub fn register() {
    metadata::metric_catalog::register_counters(&COUNTERS);
}
