//! Request bodies held to a minimum rate, and responses watched for clients
//! that stop reading.
//!
//! A body is measured only while the server waits on it: time a handler
//! spends elsewhere (writing shards, asking metadata) is the server's, not
//! the client's. Every `window` of such waiting must bring at least
//! `min_rate × window` bytes; a client dripping a byte every few seconds
//! fails the first window and its connection is cut.

use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::conn_watch::ConnWatch;

pub type BoxError = Box<dyn StdError + Send + Sync>;

/// The error a body that arrived too slowly ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived slower than the minimum rate")]
pub struct BodyTooSlow;

/// The rate rule and what it measured so far.
struct Rate {
    min_rate: u64,
    window: Duration,
    /// Waiting counted in the current window.
    waited: Duration,
    bytes: u64,
    waiting_since: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

impl Rate {
    fn needed(&self) -> u64 {
        (self.min_rate as f64 * self.window.as_secs_f64()) as u64
    }

    /// Closes a full window of waiting: whether it brought enough.
    fn window_passed(&mut self) -> bool {
        let ok = self.bytes >= self.needed();
        self.waited = Duration::ZERO;
        self.bytes = 0;
        ok
    }
}

/// A request body as services see it: the connection's body, held to the
/// listener's minimum rate.
pub struct ClientBody<B = hyper::body::Incoming> {
    inner: B,
    rate: Option<Rate>,
    watch: Arc<ConnWatch>,
    failed: bool,
}

impl<B> ClientBody<B> {
    pub(crate) fn new(inner: B, watch: Arc<ConnWatch>) -> Self {
        let limits = *watch.limits();
        let rate = (limits.body_min_rate > 0).then(|| Rate {
            min_rate: limits.body_min_rate,
            window: limits.body_rate_window,
            waited: Duration::ZERO,
            bytes: 0,
            waiting_since: None,
            timer: Box::pin(tokio::time::sleep(limits.body_rate_window)),
        });
        ClientBody {
            inner,
            rate,
            watch,
            failed: false,
        }
    }
}

impl<B> Body for ClientBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(Some(Err(Box::new(BodyTooSlow))));
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let Some(rate) = &mut this.rate else {
            return polled.map(|f| f.map(|r| r.map_err(Into::into)));
        };
        let now = Instant::now();
        match polled {
            Poll::Ready(frame) => {
                if let Some(since) = rate.waiting_since.take() {
                    rate.waited += now - since;
                }
                if let Some(Ok(f)) = &frame
                    && let Some(data) = f.data_ref()
                {
                    rate.bytes += data.len() as u64;
                }
                if rate.waited >= rate.window && !rate.window_passed() && frame.is_some() {
                    this.failed = true;
                    this.watch.cut_body_too_slow();
                    return Poll::Ready(Some(Err(Box::new(BodyTooSlow))));
                }
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => loop {
                let since = *rate.waiting_since.get_or_insert(now);
                let window_ends = since + rate.window.saturating_sub(rate.waited);
                if rate.timer.deadline() != window_ends {
                    rate.timer.as_mut().reset(window_ends);
                }
                if rate.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // A whole window spent waiting.
                rate.waiting_since = Some(window_ends);
                if !rate.window_passed() {
                    this.failed = true;
                    this.watch.cut_body_too_slow();
                    return Poll::Ready(Some(Err(Box::new(BodyTooSlow))));
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that tells the connection's watch when it hands out a
/// frame and when the protocol layer comes back for the next one, and that
/// ends its request when dropped.
pub struct WatchedBody<B> {
    inner: B,
    watch: Arc<ConnWatch>,
    response: u64,
    handed_out: bool,
}

impl<B> WatchedBody<B> {
    pub(crate) fn new(inner: B, watch: Arc<ConnWatch>, response: u64) -> Self {
        WatchedBody {
            inner,
            watch,
            response,
            handed_out: false,
        }
    }
}

impl<B> Drop for WatchedBody<B> {
    fn drop(&mut self) {
        self.watch.request_finished(self.response);
    }
}

impl<B> Body for WatchedBody<B>
where
    B: Body + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        if this.handed_out {
            this.watch.frame_taken(this.response);
            this.handed_out = false;
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(_))) = &polled
            && !this.inner.is_end_stream()
        {
            this.watch.frame_handed_out(this.response);
            this.handed_out = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use http_body_util::BodyExt;
    use tokio::sync::mpsc;

    /// A body fed by a channel, so a test decides when bytes arrive.
    struct Chunks(mpsc::Receiver<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0.poll_recv(cx).map(|c| c.map(|c| Ok(Frame::data(c))))
        }
    }

    fn body(limits: Limits) -> (mpsc::Sender<Bytes>, ClientBody<Chunks>, Arc<ConnWatch>) {
        let (tx, rx) = mpsc::channel(16);
        let watch = Arc::new(ConnWatch::new(limits));
        // The body belongs to a request the connection is serving.
        watch.request_started();
        let b = ClientBody::new(Chunks(rx), watch.clone());
        (tx, b, watch)
    }

    fn limits() -> Limits {
        Limits {
            body_min_rate: 100,
            body_rate_window: Duration::from_secs(10),
            ..Limits::PUBLIC
        }
    }

    fn chunk(n: usize) -> Bytes {
        Bytes::from(vec![0u8; n])
    }

    #[tokio::test(start_paused = true)]
    async fn a_dripping_body_is_cut_after_one_window() {
        let (tx, mut b, watch) = body(limits());
        let drip = tokio::spawn(async move {
            for _ in 0..100 {
                if tx.send(chunk(1)).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        });
        let started = Instant::now();
        let mut got = 0;
        let err = loop {
            match b.frame().await {
                Some(Ok(f)) => got += f.into_data().map_or(0, |d| d.len()),
                Some(Err(e)) => break e,
                None => panic!("the body ended"),
            }
        };
        assert!(err.is::<BodyTooSlow>());
        assert!(got < 10, "{got}");
        assert!(started.elapsed() <= Duration::from_secs(11));
        assert_eq!(
            watch.overdue(Instant::now()),
            Some(crate::conn_watch::Cut::BodyTooSlow)
        );
        drip.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_body_and_a_busy_server_are_fine() {
        let (tx, mut b, watch) = body(limits());
        tokio::spawn(async move {
            for _ in 0..20 {
                // 200 bytes a second: twice the minimum.
                tx.send(chunk(200)).await.unwrap();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let mut got = 0;
        while let Some(frame) = b.frame().await {
            got += frame.unwrap().into_data().map_or(0, |d| d.len());
            // The server is slow between reads; that time is not counted.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        assert_eq!(got, 4000);
        assert_eq!(watch.overdue(Instant::now()), None);
    }
}
