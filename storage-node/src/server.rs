//! Wiring: open the store, settle the node's identity, start the heartbeat
//! and serve the API until shutdown. [`serve`] is what tests and the
//! one-command cluster call; [`run`] adds config loading, binding and signals.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use metadata::client::MetadataClient;
use metadata::error::MetadataError;
use metadata::model::ScrubProgress;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{ApiState, install_prometheus, router};
use crate::client::StorageClient;
use crate::config::{Args, Config, ConfigError};
use crate::heartbeat::{NodeInfo, run_heartbeat};
use crate::latency::LatencyTracker;
use crate::node_identity::{self, IdentityError};
use crate::rebuild::Rebuilder;
use crate::repair_worker::run_repairs;
use crate::scrubber::Scrubber;
use crate::shard_store::{ShardStore, StoreError, StoreOptions};
use crate::throttle::Throttle;

/// Why the node could not start or stopped with an error. Messages name the
/// stage; the cause is the error's `source()` (anyhow prints the chain).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("shard store")]
    Store(#[from] StoreError),
    #[error("node identity")]
    Identity(#[from] IdentityError),
    #[error("metadata client")]
    Metadata(#[from] MetadataError),
    #[error("binding {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving")]
    Io(#[from] std::io::Error),
}

/// Runs a storage node on `tcp` until `shutdown` resolves, then stops
/// accepting, lets requests in flight finish and stops the heartbeat.
pub async fn serve(
    config: Config,
    tcp: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let metrics = install_prometheus();
    crate::metric_catalog::register();
    listener::describe_metrics();
    let store = Arc::new(
        ShardStore::open(
            config.data_dir.clone(),
            StoreOptions {
                max_shard_size: config.max_shard_size,
                capacity: config.capacity,
            },
        )
        .await?,
    );
    let node_id = {
        let dir = config.data_dir.clone();
        let configured = config.node_id.clone();
        tokio::task::spawn_blocking(move || {
            node_identity::load_or_create(&dir, configured.as_ref())
        })
        .await
        .map_err(|e| ServeError::Io(std::io::Error::other(e)))??
    };
    let local = tcp.local_addr()?;
    let advertise = match &config.advertise {
        Some(a) => a.clone(),
        None => {
            if local.ip().is_unspecified() {
                tracing::warn!(%local, "listening on a wildcard address without --advertise; peers cannot reach this node by it");
            }
            local.to_string()
        }
    };
    let metadata = MetadataClient::new(&config.metadata_url, config.cluster_secret.clone())?;
    let latency = Arc::new(LatencyTracker::default());
    let scrub_progress = Arc::new(Mutex::new(ScrubProgress::default()));

    let cancel = CancellationToken::new();
    let heartbeat = tokio::spawn(run_heartbeat(
        metadata.clone(),
        store.clone(),
        NodeInfo {
            id: node_id.clone(),
            addr: advertise.clone(),
            zone: config.zone.clone(),
            latency: latency.clone(),
            scrub: scrub_progress.clone(),
        },
        config.heartbeat_interval,
        cancel.clone(),
    ));
    let foreground = Arc::new(crate::foreground::Foreground::default());
    let rebuilder = Arc::new(Rebuilder {
        node: node_id.clone(),
        store: store.clone(),
        peers: StorageClient::new(config.cluster_secret.clone())
            .map_err(|e| ServeError::Io(std::io::Error::other(e)))?,
        throttle: Arc::new(Throttle::new(config.repair_bandwidth)),
        foreground: Arc::clone(&foreground),
        step_yield: config.repair_yield,
    });
    let repairs = tokio::spawn(run_repairs(
        metadata.clone(),
        rebuilder,
        node_id.clone(),
        config.repair_concurrency,
        cancel.clone(),
    ));
    let scrubber = tokio::spawn(
        Scrubber {
            meta: metadata,
            store: store.clone(),
            node: node_id.clone(),
            rate: config.scrub_rate,
            pause: config.scrub_pause,
            progress: scrub_progress,
        }
        .run(cancel.clone()),
    );

    let app = router(ApiState {
        store,
        node_id: node_id.clone(),
        secret: config.cluster_secret.clone(),
        metrics,
        latency,
        foreground,
        background_yield: config.repair_yield,
    });
    tracing::info!(%local, %advertise, %node_id, "storage node listening");

    let stop_heartbeat = cancel.clone();
    let port = listener::Listener {
        name: "storage",
        limits: config.limits,
        trusted_proxies: listener::TrustedProxies::default(),
    };
    let served = listener::serve_router(port, tcp, app, async move {
        shutdown.await;
        stop_heartbeat.cancel();
    })
    .await;
    cancel.cancel();
    let _ = heartbeat.await;
    let _ = repairs.await;
    let _ = scrubber.await;
    tracing::info!(%node_id, "storage node stopped");
    served.map_err(ServeError::Io)
}

/// The whole node from its flags: load the config, bind, serve until SIGINT or
/// SIGTERM. `storage-node` and `edge storage-node` are this one call.
pub async fn run(args: Args) -> Result<(), ServeError> {
    metadata::cluster_auth::warn_about_secret_flags(&["--cluster-secret"]);
    let config = Config::load(&args)?;
    let tcp = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    serve(config, tcp, metadata::lifecycle::shutdown_signal()).await
}
