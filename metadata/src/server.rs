//! Running the service: open the store, load membership, serve the API until
//! shutdown. Shared by `main.rs`, the edge's `edge metadata` subcommand, the
//! local cluster and the tests.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use tokio::sync::watch;

use crate::api::{AppState, router};
use crate::change_feed::{ChangeFeed, LEASE_MARKER};
use crate::config::{Args, Config, ConfigError, StoreConfig};
use crate::registry::Registry;
use crate::repair::Repairer;
use crate::store::{LeaseHolder, MetaStore, PgStore, RedbStore, StoreError};

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
                crate::metrics_upkeep::spawn_upkeep(handle.clone());
                Some(handle)
            }
            Err(e) => {
                tracing::info!(error = %e, "a metrics recorder is already installed");
                None
            }
        })
        .clone()
}

/// Opens the configured store: the embedded file, or a PostgreSQL
/// database (migrated to this release's schema first).
pub async fn open_store(config: &StoreConfig) -> Result<Arc<dyn MetaStore>, StoreError> {
    match config {
        StoreConfig::Embedded { data_dir } => {
            let data_dir = data_dir.clone();
            let store = tokio::task::spawn_blocking(move || RedbStore::open(&data_dir))
                .await
                .map_err(|e| StoreError::Backend(format!("opening the store: {e}")))??;
            tracing::info!(path = %store.path().display(), "metadata store open");
            Ok(Arc::new(store))
        }
        StoreConfig::Postgres(options) => {
            let store = PgStore::connect(options).await?;
            tracing::info!(target = store.target(), "metadata store on PostgreSQL");
            Ok(Arc::new(store))
        }
    }
}

/// Serves the metadata API on `tcp` until `shutdown` resolves, then
/// finishes in-flight requests and closes the store (every acknowledged write
/// is already durable).
///
/// Every replica serves the whole API. Work that must have one owner
/// (repair planning and dispatch, garbage collection) runs only while this
/// replica leads (see [`crate::leader`]); with the embedded store that is
/// always.
pub async fn serve(
    config: Config,
    tcp: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let store = open_store(&config.store).await?;
    let registry = Arc::new(Registry::load(store.clone(), config.heartbeat_timeout).await?);
    let refresh = store
        .is_shared()
        .then(|| tokio::spawn(registry.clone().run_refresh()));
    let repairer = Arc::new(Repairer::new(
        store.clone(),
        registry.clone(),
        config.repair,
    ));
    let me = LeaseHolder {
        id: uuid::Uuid::new_v4().to_string(),
        addr: config.advertise.clone(),
    };
    let (stop_campaign, campaign_stopped) = watch::channel(false);
    let (leadership, campaign) =
        crate::leader::spawn(store.clone(), me, config.leader_lease, campaign_stopped);
    let maintenance = {
        let (store, repairer, grace) = (store.clone(), repairer.clone(), config.gc_grace);
        tokio::spawn(crate::leader::while_leading(
            leadership.subscribe(),
            move || {
                vec![
                    tokio::spawn(crate::collector::run(store.clone(), grace)),
                    tokio::spawn(repairer.clone().run()),
                ]
            },
        ))
    };
    let metrics = metrics_handle();
    crate::metric_catalog::register();
    listener::describe_metrics();
    let changes = (!store.is_shared()).then(|| {
        let marker = match &config.store {
            StoreConfig::Embedded { data_dir } => Some(data_dir.join(LEASE_MARKER)),
            StoreConfig::Postgres(_) => None,
        };
        Arc::new(ChangeFeed::new(marker))
    });
    let state = AppState {
        store,
        registry,
        repairer,
        leadership,
        secret: config.cluster_secret.clone(),
        metrics,
        changes: changes.clone(),
    };
    let app = router(state);
    if let Ok(addr) = tcp.local_addr() {
        tracing::info!(%addr, "metadata service listening");
    }
    let port = listener::Listener {
        name: "metadata",
        limits: config.limits,
        trusted_proxies: listener::TrustedProxies::default(),
    };
    let served = listener::serve_router(port, tcp, app, shutdown).await;
    maintenance.abort();
    if let Some(refresh) = refresh {
        refresh.abort();
    }
    // Hand the lease over now rather than after it expires.
    stop_campaign.send_replace(true);
    if let Err(e) = campaign.await {
        tracing::warn!(error = %e, "the leader campaign ended badly");
    }
    if let Some(changes) = changes {
        changes.close();
    }
    served?;
    tracing::info!("metadata service stopped");
    Ok(())
}

/// Everything from flags to a running service: config, bind, serve until
/// SIGINT/SIGTERM. For binaries that host the metadata role.
pub async fn run(args: Args) -> Result<(), ServeError> {
    crate::cluster_auth::warn_about_secret_flags(&["--cluster-secret", "--postgres-url"]);
    let config = Config::from_args(args)?;
    let tcp = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    serve(config, tcp, crate::lifecycle::shutdown_signal()).await
}
