//! The gateway's counters, described and registered at zero when the
//! process starts, so `/metrics` shows them (and alerts can match them)
//! before the first event.

const COUNTERS: [(&str, &str); 10] = [
    (
        "gateway_degraded_stripe_reads_total",
        "Stripes decoded from parity because a data shard was missing, bad, slow or on a down node.",
    ),
    (
        "gateway_bad_shards_total",
        "Shards that were missing or failed their hash when read.",
    ),
    (
        "gateway_hedged_shard_reads_total",
        "Shard reads that ran past their deadline and were hedged with another shard.",
    ),
    (
        "gateway_uncommitted_shards_total",
        "Shards of refused uploads handed to the garbage collector.",
    ),
    (
        "cache_evictions_total",
        "Shards evicted from the edge cache to stay within its size.",
    ),
    (
        "cache_evicted_bytes_total",
        "Bytes of shards evicted from the edge cache.",
    ),
    (
        "cache_version_checks_total",
        "Batched lookups of objects' current versions sent to metadata (one per batch).",
    ),
    (
        "cache_version_checked_keys_total",
        "Keys checked for their current version in those batches (shared by concurrent reads of a key).",
    ),
    (
        "cache_prefetched_stripes_total",
        "Stripes read into the cache ahead of a client reading consecutive ranges.",
    ),
    (
        "cache_prefetches_skipped_total",
        "Read-aheads skipped because enough were already running.",
    ),
];

/// Labelled counters, described; each label value is registered at zero.
const LABELLED: [(&str, &str, &str, &[&str]); 4] = [
    (
        "cache_shard_lookups_total",
        "Data shard lookups in the edge cache, by result.",
        "result",
        &["hit", "miss", "coalesced"],
    ),
    (
        "cache_responses_total",
        "GET and HEAD responses, by what the caches did (the x-cache header).",
        "x_cache",
        &["hit", "miss", "coalesced", "stale"],
    ),
    (
        "cache_bytes_total",
        "Shard bytes read from the cache and fetched from storage nodes.",
        "source",
        &["cache", "storage"],
    ),
    (
        "cache_manifest_lookups_total",
        "Object manifests found current in the cache, fetched, or served stale.",
        "result",
        &["hit", "miss", "stale"],
    ),
];

/// Describes the counters to the installed recorder.
pub fn register() {
    metadata::metric_catalog::register_counters(&COUNTERS);
    for (name, help, label, values) in LABELLED {
        metrics::describe_counter!(name, help);
        for value in values {
            metrics::counter!(name, label => *value).increment(0);
        }
    }
    metrics::describe_histogram!(
        "cache_storage_fetch_seconds",
        metrics::Unit::Seconds,
        "Time to fetch one shard from a storage node on a cache miss."
    );
    metrics::describe_gauge!("cache_size_bytes", "Bytes of shards in the edge cache.");
    metrics::describe_gauge!("cache_shards", "Shards in the edge cache.");
    metrics::describe_gauge!("cache_capacity_bytes", "The edge cache's bound in bytes.");
}
