//! The gateway's counters, described and registered at zero when the
//! process starts, so `/metrics` shows them (and alerts can match them)
//! before the first event.

const COUNTERS: [(&str, &str); 4] = [
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
];

/// Describes the counters to the installed recorder.
pub fn register() {
    metadata::metric_catalog::register_counters(&COUNTERS);
}
