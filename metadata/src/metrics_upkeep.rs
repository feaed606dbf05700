//! Keeps the Prometheus recorder's histograms bounded between scrapes.
//!
//! `metrics-exporter-prometheus` appends every histogram sample to a bucket
//! that only its upkeep (or a scrape, which runs it) drains into a fixed-size
//! summary. A recorder built with `build_recorder` or `install_recorder` runs
//! no upkeep of its own, so on a process nobody scrapes, every request's
//! latency sample stays in memory: on an edge, memory that grows with what
//! outsiders send (8 bytes a request, gigabytes a day at a few thousand
//! requests a second). Every process that installs a recorder hands its
//! handle here.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;

/// How often pending samples are folded into their summaries: a few seconds
/// of requests at most are held at any time.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Runs the recorder's upkeep every [`UPKEEP_EVERY`] on a thread of its own
/// (a plain thread, so it keeps going whatever the async runtime is doing,
/// and needs none). Call once per recorder.
pub fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no metrics upkeep thread: histograms grow until scraped");
    }
}
