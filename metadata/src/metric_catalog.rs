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
}

/// Describes counters (name, help) and registers them at zero; every
/// service uses it for its own list.
pub fn register_counters(counters: &[(&'static str, &'static str)]) {
    for &(name, help) in counters {
        metrics::describe_counter!(name, help);
        metrics::counter!(name).increment(0);
    }
}
