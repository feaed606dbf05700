//! Serving: the S3 endpoint (s3s over hyper, HTTP/1.1 and HTTP/2) and the
//! admin endpoint (`/health`, `/metrics`) on its own port, so that no bucket
//! name can ever shadow an operational route.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use metadata::client::MetadataClient;
use metrics_exporter_prometheus::PrometheusHandle;
use storage_node::client::StorageClient;
use tokio::net::TcpListener;

use crate::config::EdgeConfig;
use crate::request_span::Frontend;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("metadata client: {0}")]
    Metadata(#[from] metadata::error::MetadataError),
    #[error("storage client: {0}")]
    Storage(#[from] storage_node::client::ShardError),
    #[error("gateway: {0}")]
    Gateway(#[from] gateway::GatewayError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("tls: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// Bucket bounds of the shard fetch histogram, in seconds: loopback
/// fetches take a millisecond, a degraded disk tens.
const FETCH_SECONDS_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0,
];

/// Installs the process-wide Prometheus recorder once; later calls reuse it.
pub fn prometheus_handle() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Shard fetch latency as a real histogram (buckets aggregate
            // across edges; quantiles do not).
            let builder = metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(
                        "cache_storage_fetch_seconds".into(),
                    ),
                    &FETCH_SECONDS_BUCKETS,
                );
            let recorder = match builder {
                Ok(b) => b.build_recorder(),
                Err(_) => metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder(),
            };
            let handle = recorder.handle();
            // Another recorder may already be installed (in-process tests);
            // then this handle renders only what it sees, which is harmless.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Serves the S3 API on `s3_listener` and the admin API on `admin_listener`
/// until `shutdown` resolves, then drains open connections (up to 30 s).
pub async fn serve(
    config: EdgeConfig,
    s3_listener: TcpListener,
    admin_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    // Certificate errors stop the start, before anything listens for clients.
    let tls = config.tls.clone().map(crate::tls::Tls::new).transpose()?;
    if let Some(tls) = &tls {
        tls.reload_on_sighup()?;
    }
    let metrics = prometheus_handle();
    gateway::metric_catalog::register();
    let meta = MetadataClient::new(&config.metadata_url, config.cluster_secret.clone())?;
    let storage = StorageClient::new(config.cluster_secret.clone())?;
    let gateway = gateway::gateway(config.gateway.clone(), meta, storage).await?;
    let front = Arc::new(Frontend {
        s3: gateway.s3,
        limits: crate::rate_limit::RateLimits::new(
            config.rate_limit_per_key,
            config.rate_limit_per_address,
        ),
        buckets: gateway.buckets,
        hosts: gateway.hosts,
    });
    let caches = gateway.caches;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });

    let purge = crate::purge::PurgeState {
        caches: caches.clone(),
        secret: config.cluster_secret.clone(),
    };
    let admin = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                let caches = caches.clone();
                async move {
                    caches.record_usage().await;
                    metrics.render()
                }
            }),
        )
        .route(
            "/cache/purge",
            axum::routing::post(crate::purge::purge).with_state(purge),
        );
    let mut admin_stop = stop_rx.clone();
    let admin_task = tokio::spawn(async move {
        axum::serve(admin_listener, admin)
            .with_graceful_shutdown(async move {
                let _ = admin_stop.wait_for(|s| *s).await;
            })
            .await
    });

    tracing::info!(addr = %s3_listener.local_addr()?, tls = tls.is_some(), "S3 endpoint listening");
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    let graceful = GracefulShutdown::new();
    let mut stop = stop_rx;
    loop {
        tokio::select! {
            accepted = s3_listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(err) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Without TCP_NODELAY small responses wait ~40 ms for delayed ACKs.
                let _ = stream.set_nodelay(true);
                let front = Arc::clone(&front);
                let service = hyper::service::service_fn(move |req| {
                    crate::request_span::handle(Arc::clone(&front), peer.ip(), req)
                });
                let builder = Arc::clone(&builder);
                let watcher = graceful.watcher();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let served = match tls {
                        None => {
                            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                            watcher.watch(conn.into_owned()).await
                        }
                        // The handshake runs here, off the accept loop.
                        Some(tls) => match tls.accept(stream).await {
                            Ok(stream) => {
                                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                                watcher.watch(conn.into_owned()).await
                            }
                            Err(err) => {
                                tracing::debug!(%peer, error = %err, "TLS handshake failed");
                                return;
                            }
                        },
                    };
                    if let Err(err) = served {
                        tracing::debug!(%peer, error = %err, "connection ended with an error");
                    }
                });
            }
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    drop(s3_listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all S3 connections closed"),
        () = tokio::time::sleep(Duration::from_secs(30)) => tracing::warn!("connections still open after 30 s; closing"),
    }
    if let Ok(Err(err)) = admin_task.await {
        tracing::warn!(error = %err, "admin endpoint failed");
    }
    Ok(())
}
