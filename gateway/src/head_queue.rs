//! Batched lookups of objects' current versions, without ever answering a
//! request with a lookup that began before the request arrived.
//!
//! Read-after-write across edges rests on this: a PUT acknowledged by any
//! edge is committed in metadata before its acknowledgement, so a lookup
//! *sent after* a GET arrives sees it. Every read needs such a lookup, so a
//! cache hit would otherwise cost metadata one request of its own. Instead,
//! reads queue their keys and at most [`MAX_IN_FLIGHT`] batch requests
//! (`POST /v1/objects/heads`) run at a time: an idle edge sends a read's
//! lookup at once, alone; under load, the keys of every read that arrived
//! while the batches were in flight go together in the next one, and
//! concurrent reads of one key share one entry. No read waits longer than
//! two round trips, and metadata sees one request per round trip per slot
//! however many clients read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use metadata::client::MetadataClient;
use metadata::error::MetadataError;
use metadata::ids::BucketName;
use metadata::model::ObjectMeta;
use metadata::wire::{MAX_HEADS_PER_REQUEST, ObjectKeyRequest};
use tokio::sync::oneshot;

pub type ObjectName = (BucketName, String);
type Answer = Result<ObjectMeta, MetadataError>;

/// Batches in flight at once. More than one, so that a read arriving just
/// after a batch left need not wait for it to come back; few, so that under
/// load the batches fill up.
pub const MAX_IN_FLIGHT: usize = 4;

/// Keys per batch: the metadata service's limit, and the size past which
/// one request's latency would start to grow with its length.
const MAX_BATCH: usize = if MAX_HEADS_PER_REQUEST < 256 {
    MAX_HEADS_PER_REQUEST
} else {
    256
};

#[derive(Default)]
struct Waiting {
    /// Keys queued for the next batch, each with the reads waiting for it,
    /// in arrival order of the keys.
    queued: HashMap<ObjectName, Vec<oneshot::Sender<Answer>>>,
    order: Vec<ObjectName>,
    in_flight: usize,
}

impl Waiting {
    /// Takes up to [`MAX_BATCH`] keys, oldest first.
    fn take_batch(&mut self) -> Vec<(ObjectName, Vec<oneshot::Sender<Answer>>)> {
        let n = self.order.len().min(MAX_BATCH);
        self.order
            .drain(..n)
            .filter_map(|name| {
                let waiters = self.queued.remove(&name)?;
                Some((name, waiters))
            })
            .collect()
    }
}

#[derive(Clone)]
pub struct HeadQueue {
    meta: MetadataClient,
    waiting: Arc<Mutex<Waiting>>,
}

impl HeadQueue {
    pub fn new(meta: MetadataClient) -> Self {
        HeadQueue {
            meta,
            waiting: Arc::default(),
        }
    }

    /// The object's current metadata, from a lookup sent after this call.
    pub async fn current(&self, bucket: &BucketName, key: &str) -> Answer {
        let (tx, rx) = oneshot::channel();
        let name = (bucket.clone(), key.to_owned());
        let start = {
            let mut waiting = self
                .waiting
                .lock()
                .map_err(|_| MetadataError::Internal("head queue poisoned".into()))?;
            match waiting.queued.get_mut(&name) {
                Some(readers) => readers.push(tx),
                None => {
                    waiting.order.push(name.clone());
                    waiting.queued.insert(name, vec![tx]);
                }
            }
            let start = waiting.in_flight < MAX_IN_FLIGHT;
            if start {
                waiting.in_flight += 1;
            }
            start
        };
        if start {
            // A task of its own: a client that hangs up must not strand the
            // requests queued behind its lookup.
            tokio::spawn(self.clone().run());
        }
        rx.await
            .map_err(|_| MetadataError::Internal("object lookup abandoned".into()))?
    }

    /// Sends batches of whatever is queued, until nothing is.
    async fn run(self) {
        loop {
            let batch = {
                let Ok(mut waiting) = self.waiting.lock() else {
                    return;
                };
                let batch = waiting.take_batch();
                if batch.is_empty() {
                    waiting.in_flight -= 1;
                    return;
                }
                batch
            };
            let asked = batch
                .iter()
                .map(|((bucket, key), _)| ObjectKeyRequest {
                    bucket: bucket.clone(),
                    key: key.clone(),
                })
                .collect();
            let answers = self.meta.head_objects(asked).await;
            metrics::counter!("cache_version_checks_total").increment(1);
            metrics::counter!("cache_version_checked_keys_total").increment(batch.len() as u64);
            match answers {
                Ok(answers) => {
                    for ((_, readers), answer) in batch.into_iter().zip(answers) {
                        for tx in readers {
                            let _ = tx.send(answer.clone());
                        }
                    }
                }
                Err(err) => {
                    for (_, readers) in batch {
                        for tx in readers {
                            let _ = tx.send(Err(err.clone()));
                        }
                    }
                }
            }
        }
    }
}
