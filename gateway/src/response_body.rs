//! A response body: either pieces already in memory (a response served
//! wholly from cache), or pieces fed through a bounded channel. The
//! channel's producer (the striped reader) runs as its own task, so the
//! next stripes are fetched while the current one is being sent, and a
//! client that disconnects stops the fetches.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use tokio::sync::mpsc;

pub struct ChannelBody {
    rx: Option<mpsc::Receiver<Result<Bytes, std::io::Error>>>,
    /// Sent before anything from the channel.
    ready: VecDeque<Bytes>,
}

impl ChannelBody {
    pub fn channel(capacity: usize) -> (mpsc::Sender<Result<Bytes, std::io::Error>>, Self) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            tx,
            ChannelBody {
                rx: Some(rx),
                ready: VecDeque::new(),
            },
        )
    }

    pub fn once(bytes: Bytes) -> Self {
        Self::pieces(vec![bytes])
    }

    /// A body that is all in memory already: no task, no channel.
    pub fn pieces(pieces: Vec<Bytes>) -> Self {
        ChannelBody {
            rx: None,
            ready: pieces.into(),
        }
    }

    pub fn empty() -> Self {
        Self::pieces(Vec::new())
    }
}

impl Stream for ChannelBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(piece) = self.ready.pop_front() {
            return Poll::Ready(Some(Ok(piece)));
        }
        match self.rx.as_mut() {
            Some(rx) => rx.poll_recv(cx),
            None => Poll::Ready(None),
        }
    }
}
