//! Wiring: open the store, settle the node's identity, start the heartbeat
//! and serve the API until shutdown. [`serve`] is what tests and the
//! one-command cluster call; [`run`] adds config loading, binding and signals.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use metadata::client::MetadataClient;
use metadata::error::MetadataError;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{ApiState, install_prometheus, router};
use crate::config::{Args, Config, ConfigError};
use crate::heartbeat::{NodeInfo, run_heartbeat};
use crate::node_identity::{self, IdentityError};
use crate::shard_store::{ShardStore, StoreError, StoreOptions};

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

/// Runs a storage node on `listener` until `shutdown` resolves, then stops
/// accepting, lets requests in flight finish and stops the heartbeat.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let metrics = install_prometheus();
    crate::metric_catalog::register();
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
    let local = listener.local_addr()?;
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

    let cancel = CancellationToken::new();
    let heartbeat = tokio::spawn(run_heartbeat(
        metadata,
        store.clone(),
        NodeInfo {
            id: node_id.clone(),
            addr: advertise.clone(),
            zone: config.zone.clone(),
        },
        config.heartbeat_interval,
        cancel.clone(),
    ));

    let app = router(ApiState {
        store,
        node_id: node_id.clone(),
        secret: config.cluster_secret.clone(),
        metrics,
    });
    tracing::info!(%local, %advertise, %node_id, "storage node listening");

    // Small GETs and HEADs would otherwise wait on Nagle + delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let stop_heartbeat = cancel.clone();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stop_heartbeat.cancel();
        })
        .await;
    cancel.cancel();
    let _ = heartbeat.await;
    tracing::info!(%node_id, "storage node stopped");
    served.map_err(ServeError::Io)
}

/// The whole node from its flags: load the config, bind, serve until SIGINT or
/// SIGTERM. `storage-node` and `edge storage-node` are this one call.
pub async fn run(args: Args) -> Result<(), ServeError> {
    let config = Config::load(&args)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    serve(config, listener, metadata::lifecycle::shutdown_signal()).await
}
