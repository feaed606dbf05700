//! Coalesced lookups of an object's current version, without ever answering
//! a request with a lookup that began before the request arrived.
//!
//! Read-after-write across edges rests on this: a PUT acknowledged by any
//! edge is committed in metadata before its acknowledgement, so a lookup
//! *sent after* a GET arrives sees it. Concurrent GETs of one key share
//! lookups: while one is in flight, later arrivals wait for the next one,
//! which starts when the current one ends. A hot key thus costs metadata at
//! most one lookup per round trip, however many clients read it, and no
//! request waits longer than two round trips.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use metadata::client::MetadataClient;
use metadata::error::MetadataError;
use metadata::ids::BucketName;
use metadata::model::ObjectMeta;
use tokio::sync::oneshot;

pub type ObjectName = (BucketName, String);
type Answer = Result<ObjectMeta, MetadataError>;

#[derive(Clone)]
pub struct HeadQueue {
    meta: MetadataClient,
    /// A key is present while a lookup for it runs; its list holds the
    /// requests that arrived since, waiting for the next lookup.
    waiting: Arc<Mutex<HashMap<ObjectName, Vec<oneshot::Sender<Answer>>>>>,
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
            match waiting.get_mut(&name) {
                Some(next) => {
                    next.push(tx);
                    None
                }
                None => {
                    waiting.insert(name.clone(), Vec::new());
                    Some(tx)
                }
            }
        };
        if let Some(tx) = start {
            // A task of its own: a client that hangs up must not strand the
            // requests queued behind its lookup.
            tokio::spawn(self.clone().run(name, vec![tx]));
        }
        rx.await
            .map_err(|_| MetadataError::Internal("object lookup abandoned".into()))?
    }

    /// Looks the key up for `batch`, then for whoever arrived meanwhile,
    /// until nobody waits.
    async fn run(self, name: ObjectName, mut batch: Vec<oneshot::Sender<Answer>>) {
        loop {
            let answer = self.meta.head_object(&name.0, &name.1).await;
            metrics::counter!("cache_version_checks_total").increment(1);
            for tx in batch {
                let _ = tx.send(answer.clone());
            }
            let Ok(mut waiting) = self.waiting.lock() else {
                return;
            };
            match waiting.get_mut(&name) {
                Some(next) if !next.is_empty() => batch = std::mem::take(next),
                _ => {
                    waiting.remove(&name);
                    return;
                }
            }
        }
    }
}
