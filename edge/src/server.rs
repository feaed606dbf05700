//! Serving: the S3 endpoint (s3s over hyper, HTTP/1.1 and HTTP/2) and the
//! admin endpoint (`/health`, `/metrics`) on its own port, so that no bucket
//! name can ever shadow an operational route. Both run on the cluster's
//! common listener ([`listener::serve`]): timeouts, connection caps and
//! minimum rates, each port with its own limits.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use listener::{Listener, Plain, TrustedProxies};
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
            if metrics::set_global_recorder(recorder).is_ok() {
                metadata::metrics_upkeep::spawn_upkeep(handle.clone());
            }
            handle
        })
        .clone()
}

/// Serves the S3 API on `s3_listener` and the admin API on `admin_listener`
/// until `shutdown` resolves, then drains open connections (up to each
/// port's drain timeout).
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
    listener::describe_metrics();
    let meta = MetadataClient::new(&config.metadata_url, config.cluster_secret.clone())?;
    let storage = StorageClient::new(config.cluster_secret.clone())?;
    let limits = Arc::new(crate::rate_limit::RateLimits::new(
        config.rate_limit_per_key,
        config.rate_limit_per_address,
    ));
    let admission: Option<gateway::KeyAdmission> = config.rate_limit_per_key.map(|_| {
        let limits = Arc::clone(&limits);
        Arc::new(move |key: &str| {
            let allowed = limits.allow_key(key);
            if !allowed {
                metrics::counter!("edge_rate_limited_total", "limit" => "key").increment(1);
            }
            allowed
        }) as gateway::KeyAdmission
    });
    let gateway = gateway::gateway(config.gateway.clone(), meta, storage, admission).await?;
    let front = Arc::new(Frontend {
        s3: gateway.s3,
        limits,
        buckets: gateway.buckets,
        hosts: gateway.hosts,
    });
    let caches = gateway.caches;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let purge = crate::purge::PurgeState {
        caches: caches.clone(),
        secret: config.cluster_secret.clone(),
    };
    let admin = Router::new()
        .route("/health", get(|| async { metadata::instance::health_ok() }))
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
    let admin_port = Listener {
        name: "admin",
        limits: config.admin_limits,
        trusted_proxies: TrustedProxies::default(),
    };
    let admin_task = tokio::spawn(listener::serve_router(
        admin_port,
        admin_listener,
        admin,
        stopped(stop_rx.clone()),
    ));

    tracing::info!(addr = %s3_listener.local_addr()?, tls = tls.is_some(), "S3 endpoint listening");
    let s3_port = Listener {
        name: "s3",
        limits: config.limits,
        trusted_proxies: config.trusted_proxies.clone(),
    };
    let trusted = config.trusted_proxies.clone();
    let make_service = move |peer: SocketAddr| {
        let front = Arc::clone(&front);
        let trusted = trusted.clone();
        hyper::service::service_fn(move |req: http::Request<listener::ClientBody>| {
            let client = trusted.client_address(peer.ip(), req.headers());
            crate::request_span::handle(Arc::clone(&front), client, req)
        })
    };
    let served = match tls {
        None => {
            listener::serve(
                s3_port,
                s3_listener,
                Arc::new(Plain),
                make_service,
                stopped(stop_rx),
            )
            .await
        }
        Some(tls) => {
            listener::serve(
                s3_port,
                s3_listener,
                Arc::new(tls),
                make_service,
                stopped(stop_rx),
            )
            .await
        }
    };
    if let Err(err) = &served {
        tracing::warn!(error = %err, "S3 endpoint failed");
    }
    match admin_task.await {
        Ok(Err(err)) => tracing::warn!(error = %err, "admin endpoint failed"),
        Err(err) => tracing::warn!(error = %err, "admin endpoint panicked"),
        Ok(Ok(())) => {}
    }
    served?;
    Ok(())
}
