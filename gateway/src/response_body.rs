//! A response body fed through a bounded channel. The producer (the striped
//! reader) runs as its own task, so the next stripes are fetched while the
//! current one is being sent, and a client that disconnects stops the fetches.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use tokio::sync::mpsc;

pub struct ChannelBody {
    rx: Option<mpsc::Receiver<Result<Bytes, std::io::Error>>>,
    first: Option<Bytes>,
}

impl ChannelBody {
    pub fn channel(capacity: usize) -> (mpsc::Sender<Result<Bytes, std::io::Error>>, Self) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            tx,
            ChannelBody {
                rx: Some(rx),
                first: None,
            },
        )
    }

    pub fn once(bytes: Bytes) -> Self {
        ChannelBody {
            rx: None,
            first: Some(bytes),
        }
    }

    pub fn empty() -> Self {
        ChannelBody {
            rx: None,
            first: None,
        }
    }
}

impl Stream for ChannelBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        match self.rx.as_mut() {
            Some(rx) => rx.poll_recv(cx),
            None => Poll::Ready(None),
        }
    }
}
