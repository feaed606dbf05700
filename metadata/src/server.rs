//! Running the service: open the store, load membership, serve the API until
//! shutdown. Shared by `main.rs`, the edge's `edge metadata` subcommand, the
//! local cluster and the tests.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::serve::ListenerExt;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::api::{AppState, router};
use crate::config::{Args, Config, ConfigError};
use crate::registry::Registry;
use crate::repair::Repairer;
use crate::store::{MetaStore, RedbStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("metadata store: {0}")]
    Store(#[from] StoreError),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// The process-wide Prometheus recorder. Installed on first use; later calls
/// (a second server in the same test process) share it. `None` if another
/// recorder was installed first (by a host binary), which then owns
/// `/metrics`.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => {
                // Histograms need periodic upkeep or they grow without bound.
                let upkeep = handle.clone();
                let spawned = std::thread::Builder::new()
                    .name("metrics-upkeep".into())
                    .spawn(move || {
                        loop {
                            std::thread::sleep(Duration::from_secs(5));
                            upkeep.run_upkeep();
                        }
                    });
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "no metrics upkeep thread");
                }
                Some(handle)
            }
            Err(e) => {
                tracing::info!(error = %e, "a metrics recorder is already installed");
                None
            }
        })
        .clone()
}

/// Serves the metadata API on `listener` until `shutdown` resolves, then
/// finishes in-flight requests and closes the store (every acknowledged write
/// is already durable).
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let data_dir = config.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || RedbStore::open(&data_dir))
        .await
        .map_err(|e| StoreError::Backend(format!("opening the store: {e}")))??;
    tracing::info!(path = %store.path().display(), "metadata store open");
    let store: Arc<dyn MetaStore> = Arc::new(store);
    let registry = Arc::new(Registry::load(store.clone(), config.heartbeat_timeout).await?);
    let collector = tokio::spawn(crate::collector::run(store.clone(), config.gc_grace));
    let repairer = Arc::new(Repairer::new(
        store.clone(),
        registry.clone(),
        config.repair,
    ));
    let repair = tokio::spawn(repairer.clone().run());
    let metrics = metrics_handle();
    crate::metric_catalog::register();
    let state = AppState {
        store,
        registry,
        repairer,
        secret: config.cluster_secret.clone(),
        metrics,
    };
    let app = router(state);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "metadata service listening");
    }
    // Small JSON answers must not wait on Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    collector.abort();
    repair.abort();
    served?;
    tracing::info!("metadata service stopped");
    Ok(())
}

/// Everything from flags to a running service: config, bind, serve until
/// SIGINT/SIGTERM. For binaries that host the metadata role.
pub async fn run(args: Args) -> Result<(), ServeError> {
    let config = Config::from_args(args)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    serve(config, listener, crate::lifecycle::shutdown_signal()).await
}
