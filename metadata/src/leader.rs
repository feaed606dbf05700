//! Leadership among metadata replicas sharing one store.
//!
//! Any replica serves reads and writes: the store orders them. But some
//! work must have exactly one owner, or it is done twice and races itself:
//! deciding that a node is gone and planning its repair (the repair queue
//! lives in the planner's memory, and storage nodes claim tasks from it),
//! and collecting garbage. That work runs only on the replica holding the
//! `maintenance` lease ([`crate::store::MetaStore::acquire_lease`]).
//!
//! The holder renews the lease every third of its TTL. It counts itself
//! leader until one TTL after it *sent* its last successful renewal, so it
//! stops before the database could hand the lease to someone else (up to
//! clock drift over one TTL). A killed leader stops renewing; its lease
//! expires and a follower, trying on the same cadence, takes it: a new
//! leader within TTL plus one renewal period. A replica shutting down
//! releases the lease at once. With the embedded store there is one
//! process, which is always the leader.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::store::{LeaseHolder, MetaStore};

/// The lease of the single-owner work (repair planning, garbage).
pub const MAINTENANCE_LEASE: &str = "maintenance";
/// The default for `--leader-lease`.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(5);

/// A replica's view of who leads. Cheap to clone.
#[derive(Clone)]
pub struct Leadership {
    me: LeaseHolder,
    is_leader: watch::Receiver<bool>,
    leader: Arc<Mutex<Option<LeaseHolder>>>,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("me", &self.me)
            .field("is_leader", &*self.is_leader.borrow())
            .finish()
    }
}

impl Leadership {
    /// Whether this replica leads right now.
    pub fn is_leader(&self) -> bool {
        *self.is_leader.borrow()
    }

    /// This replica.
    pub fn me(&self) -> &LeaseHolder {
        &self.me
    }

    /// The leader as last seen in the store (`None`: between leaders).
    pub fn leader(&self) -> Option<LeaseHolder> {
        self.leader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Changes of [`Leadership::is_leader`].
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.is_leader.clone()
    }
}

/// Campaigns for the lease until `shutdown` fires, then releases it.
/// Returns the handle replicas consult and the campaign's task.
pub fn spawn(
    store: Arc<dyn MetaStore>,
    me: LeaseHolder,
    ttl: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> (Leadership, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let leader = Arc::new(Mutex::new(None));
    let handle = Leadership {
        me: me.clone(),
        is_leader: rx,
        leader: leader.clone(),
    };
    let task = tokio::spawn(async move {
        let every = (ttl / 3).max(Duration::from_millis(50));
        // Leader until this instant, unless renewed.
        let mut lead_until: Option<Instant> = None;
        loop {
            let sent = Instant::now();
            match store.acquire_lease(MAINTENANCE_LEASE, &me, ttl).await {
                Ok(holder) => {
                    lead_until = (holder.as_ref() == Some(&me)).then_some(sent + ttl);
                    *leader.lock().unwrap_or_else(|p| p.into_inner()) = holder;
                }
                Err(e) => tracing::warn!(error = %e, "lease renewal failed"),
            }
            // Keep leading through failed renewals only while the lease
            // we hold is certainly still ours.
            let leading = lead_until.is_some_and(|until| Instant::now() < until);
            if leading != *tx.borrow() {
                if leading {
                    tracing::info!(replica = %me.id, "this replica now leads maintenance");
                } else {
                    tracing::warn!(replica = %me.id, "this replica no longer leads maintenance");
                }
                tx.send_replace(leading);
            }
            metrics::gauge!("metadata_is_leader").set(if leading { 1.0 } else { 0.0 });
            let next = match lead_until {
                Some(until) if leading => {
                    every.min(until.saturating_duration_since(Instant::now()))
                }
                _ => every,
            };
            tokio::select! {
                () = tokio::time::sleep(next) => {}
                _ = shutdown.changed() => break,
            }
        }
        tx.send_replace(false);
        if let Err(e) = store.release_lease(MAINTENANCE_LEASE, &me).await {
            tracing::warn!(error = %e, "releasing the lease failed");
        }
    });
    (handle, task)
}

/// Runs the tasks `start` spawns while this replica leads, and aborts them
/// when it stops leading (or this future is dropped).
pub async fn while_leading<F>(mut leading: watch::Receiver<bool>, start: F)
where
    F: Fn() -> Vec<tokio::task::JoinHandle<()>>,
{
    struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            for task in &self.0 {
                task.abort();
            }
        }
    }
    let mut running = AbortOnDrop(Vec::new());
    loop {
        let now = *leading.borrow_and_update();
        if now && running.0.is_empty() {
            running.0 = start();
        } else if !now {
            for task in running.0.drain(..) {
                task.abort();
            }
        }
        if leading.changed().await.is_err() {
            return;
        }
    }
}
