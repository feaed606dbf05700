//! The Prometheus exporter behind `/metrics`.
//!
//! `metrics` has one global recorder per process. The node installs it when it
//! starts; if something else in the process already did (an embedding binary,
//! a second node in the same test process), we keep going without our own
//! handle and `/metrics` says so, instead of refusing to start.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once per process and returns its handle;
/// `None` if another recorder was installed first.
pub fn install_prometheus() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => {
                metadata::metrics_upkeep::spawn_upkeep(handle.clone());
                Some(handle)
            }
            Err(e) => {
                tracing::info!(error = %e, "metrics recorder already installed; /metrics will not render it");
                None
            }
        })
        .clone()
}
