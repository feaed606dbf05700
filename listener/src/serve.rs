//! The accept loop and each connection's task: caps at accept, a bounded TLS
//! handshake, HTTP/1.1 and HTTP/2 through hyper, the connection's clocks
//! (see [`crate::conn_watch`]) and a bounded drain on shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::caps::ConnectionCaps;
use crate::client_body::{BoxError, ClientBody, WatchedBody};
use crate::conn_watch::{ConnWatch, Cut};
use crate::limits::Limits;
use crate::trusted_proxies::TrustedProxies;
use crate::watched_io::WatchedIo;

/// One listener: its name (a metric label), limits and trusted proxies.
#[derive(Debug, Clone)]
pub struct Listener {
    pub name: &'static str,
    pub limits: Limits,
    pub trusted_proxies: TrustedProxies,
}

/// What turns an accepted connection into the byte stream HTTP runs on:
/// nothing for plain HTTP, a TLS handshake for HTTPS. It runs under the
/// header timeout.
pub trait Handshake: Send + Sync + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    fn handshake(
        &self,
        io: WatchedIo<TcpStream>,
    ) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

/// Plain HTTP.
pub struct Plain;

impl Handshake for Plain {
    type Io = WatchedIo<TcpStream>;

    async fn handshake(&self, io: WatchedIo<TcpStream>) -> io::Result<Self::Io> {
        Ok(io)
    }
}

/// Largest HTTP/2 header list: a request head has no business being larger
/// (S3 caps user metadata at 2 KiB).
const H2_MAX_HEADER_LIST: u32 = 64 * 1024;

/// The protocol settings every listener shares.
fn protocol(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The header clock is ours (it starts at a request's first byte and
    // also bounds HTTP/2); hyper's own would start when a connection goes
    // idle and cap idle keep-alive at the header timeout.
    builder.http1().header_read_timeout(None);
    builder
        .http2()
        .max_concurrent_streams(limits.h2_max_streams)
        .max_header_list_size(H2_MAX_HEADER_LIST);
    builder
}

/// Serves `tcp` until `shutdown` resolves, then lets requests in flight
/// finish for up to the drain timeout. `make_service` gets each
/// connection's peer address.
pub async fn serve<H, M, S, B>(
    listener: Listener,
    tcp: TcpListener,
    handshake: Arc<H>,
    make_service: M,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()>
where
    H: Handshake,
    M: Fn(SocketAddr) -> S,
    S: hyper::service::Service<Request<ClientBody>, Response = Response<B>> + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let Listener {
        name,
        limits,
        trusted_proxies,
    } = listener;
    let caps = ConnectionCaps::new(
        limits.max_connections,
        limits.max_connections_per_address,
        trusted_proxies,
    );
    let builder = Arc::new(protocol(&limits));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = tcp.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(err) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(listener = name, error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let admitted = match caps.admit(peer.ip()) {
                    Ok(admitted) => admitted,
                    Err(refusal) => {
                        metrics::counter!("listener_connections_refused_total", "listener" => name, "reason" => refusal.as_str()).increment(1);
                        tracing::debug!(listener = name, %peer, reason = refusal.as_str(), "connection refused");
                        continue;
                    }
                };
                // Without TCP_NODELAY small responses wait ~40 ms for delayed ACKs.
                let _ = stream.set_nodelay(true);
                let service = make_service(peer);
                let (builder, handshake, stop) = (builder.clone(), handshake.clone(), stop_rx.clone());
                metrics::gauge!("listener_connections_open", "listener" => name).increment(1.0);
                tasks.spawn(async move {
                    let cut = connection(stream, limits, &builder, &*handshake, service, stop).await;
                    drop(admitted);
                    metrics::gauge!("listener_connections_open", "listener" => name).decrement(1.0);
                    if let Some(cut) = cut {
                        metrics::counter!("listener_connections_cut_total", "listener" => name, "reason" => cut.as_str()).increment(1);
                        tracing::debug!(listener = name, %peer, reason = cut.as_str(), "connection cut");
                    }
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(tcp);
    stop_tx.send_replace(true);
    // Each connection bounds its own drain; this only catches stragglers.
    let all_done = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.drain_timeout + Duration::from_secs(1), all_done)
        .await
        .is_err()
    {
        tracing::warn!(
            listener = name,
            "connections still open after the drain timeout; closing"
        );
        tasks.shutdown().await;
    }
    Ok(())
}

/// Why a connection ended early, beyond the clocks of [`Cut`].
#[derive(Debug, Clone, Copy)]
enum End {
    Cut(Cut),
    /// Shutdown's drain timeout passed with requests in flight.
    Drained,
}

async fn connection<H, S, B>(
    stream: TcpStream,
    limits: Limits,
    builder: &auto::Builder<TokioExecutor>,
    handshake: &H,
    service: S,
    mut stop: watch::Receiver<bool>,
) -> Option<Cut>
where
    H: Handshake,
    S: hyper::service::Service<Request<ClientBody>, Response = Response<B>> + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let watch = Arc::new(ConnWatch::new(limits));
    let io = WatchedIo::new(stream, watch.clone());
    let io = match tokio::time::timeout(limits.header_timeout, handshake.handshake(io)).await {
        Ok(Ok(io)) => io,
        Ok(Err(err)) => {
            tracing::debug!(error = %err, "handshake failed");
            return None;
        }
        Err(_) => return Some(Cut::HeaderTimeout),
    };
    let service = Watched {
        inner: Arc::new(service),
        watch: watch.clone(),
    };
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let far = Duration::from_secs(24 * 3600);
    let sleep = tokio::time::sleep(far);
    tokio::pin!(sleep);
    let mut drain_until: Option<Instant> = None;
    let end = loop {
        let deadline = watch.deadline().map(|(at, _)| at);
        let wake_at = match (deadline, drain_until) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or_else(|| Instant::now() + far),
        };
        sleep.as_mut().reset(wake_at);
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(err) = served {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                return watch.decided_cut();
            }
            () = watch.wake.notified() => {}
            () = &mut sleep => {
                let now = Instant::now();
                if let Some(cut) = watch.overdue(now) {
                    break End::Cut(cut);
                }
                if drain_until.is_some_and(|d| d <= now) {
                    break End::Drained;
                }
            }
            _ = stop.wait_for(|s| *s), if drain_until.is_none() => {
                conn.as_mut().graceful_shutdown();
                drain_until = Some(Instant::now() + limits.drain_timeout);
            }
        }
    };
    // Dropping the connection closes the socket.
    match end {
        End::Cut(cut) => Some(cut),
        End::Drained => None,
    }
}

/// The service as hyper sees it: each request counted in flight on the
/// connection's watch, its body held to the minimum rate, its response
/// watched until dropped.
struct Watched<S> {
    inner: Arc<S>,
    watch: Arc<ConnWatch>,
}

/// Ends a request on the watch if its response never comes (the handler
/// failed or was dropped).
struct Unanswered {
    watch: Arc<ConnWatch>,
    response: u64,
    armed: bool,
}

impl Unanswered {
    /// The response came: from now on its body ends the request.
    fn answered(mut self) {
        self.armed = false;
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if self.armed {
            self.watch.request_finished(self.response);
        }
    }
}

type Answer<B, E> = Pin<Box<dyn Future<Output = Result<Response<WatchedBody<B>>, E>> + Send>>;

impl<S, B> hyper::service::Service<Request<Incoming>> for Watched<S>
where
    S: hyper::service::Service<Request<ClientBody>, Response = Response<B>>,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
{
    type Response = Response<WatchedBody<B>>;
    type Error = S::Error;
    type Future = Answer<B, S::Error>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let response = self.watch.request_started();
        let unanswered = Unanswered {
            watch: self.watch.clone(),
            response,
            armed: true,
        };
        let watch = self.watch.clone();
        let req = req.map(|b| ClientBody::new(b, watch.clone()));
        let answer = self.inner.call(req);
        Box::pin(async move {
            let resp = answer.await?;
            unanswered.answered();
            Ok(resp.map(|b| WatchedBody::new(b, watch, response)))
        })
    }
}

/// Serves an axum router (the internal services and admin ports).
pub async fn serve_router(
    listener: Listener,
    tcp: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    serve(
        listener,
        tcp,
        Arc::new(Plain),
        move |_| hyper_util::service::TowerToHyperService::new(router.clone()),
        shutdown,
    )
    .await
}
