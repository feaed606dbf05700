//! The metadata service's garbage collection counters, described and
//! registered at zero when it starts, so `/metrics` shows them before the
//! first collection.

const COUNTERS: [(&str, &str); 2] = [
    (
        "metadata_garbage_collected_total",
        "Replaced, deleted or refused versions whose grace period ended and whose shard references were dropped.",
    ),
    (
        "metadata_shards_deleted_total",
        "Shard files storage nodes confirmed deleted.",
    ),
];

/// Describes the counters to the installed recorder.
pub fn register() {
    register_counters(&COUNTERS);
    metrics::describe_gauge!(
        "metadata_edge_leases",
        "Edges holding a manifest lease: writes wait for each to drop what it kept of the key."
    );
    metrics::describe_histogram!(
        "metadata_write_lease_wait_seconds",
        "How long a write waited for edges with leases to apply its change before it was answered."
    );
}

/// Describes counters (name, help) and registers them at zero; every
/// service uses it for its own list.
pub fn register_counters(counters: &[(&'static str, &'static str)]) {
    for &(name, help) in counters {
        metrics::describe_counter!(name, help);
        metrics::counter!(name).increment(0);
    }
}
