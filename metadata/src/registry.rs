//! Node membership: which storage nodes exist, where they are reached, and
//! whether they are alive.
//!
//! Liveness lives in memory: a node is up while its last heartbeat is younger
//! than the heartbeat timeout. Persisting every heartbeat would cost an fsync
//! per node per interval for information that is stale a few seconds later,
//! so the store is written only when a node first registers or changes how it
//! is reached (address or zone). After a restart the persisted nodes count as
//! seen at load time: they stay up for one timeout and drop to down unless
//! they heartbeat, so a metadata restart does not mark the cluster dead.
//!
//! Several replicas on one shared store (PostgreSQL) each receive only the
//! heartbeats of the nodes that happen to call them, yet every replica
//! places writes and the leader decides what is down. So with a shared
//! store every heartbeat is persisted (one small row update per node per
//! interval, a trivial load for PostgreSQL), and each replica merges the
//! stored heartbeats into its view every [`REFRESH_EVERY`]: all replicas
//! agree on liveness within that period, and a new leader starts from the
//! true last-seen times instead of assuming everyone is up. Why not have
//! nodes heartbeat every replica: a node that reaches only some replicas
//! would look up to some and down to others, and the leader's view would
//! depend on network paths rather than on one record. The cost is that
//! replicas compare a heartbeat's wall-clock time with their own clock, so
//! their clocks must agree to well within the heartbeat timeout (NTP does).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::ids::NodeId;
use crate::model::{NodeHeartbeat, NodeState, NodeStatus, now_unix_ms};
use crate::store::{MetaStore, StoreError};

/// Why a node could not be removed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveNodeError {
    #[error("the node is still sending heartbeats; stop it first")]
    StillUp,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The default for `--heartbeat-timeout`.
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a replica on a shared store merges the stored heartbeats.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

struct Entry {
    heartbeat: NodeHeartbeat,
    /// Monotonic, for the up/down decision (immune to clock steps).
    last_seen: Instant,
    /// Wall clock, for reporting.
    last_seen_unix_ms: i64,
    draining: bool,
}

pub struct Registry {
    store: Arc<dyn MetaStore>,
    timeout: Duration,
    nodes: RwLock<BTreeMap<NodeId, Entry>>,
    /// Other replicas share the store: persist every heartbeat and merge
    /// theirs (see the module doc).
    shared: bool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Loads the persisted nodes, all considered seen now; on a shared
    /// store, seen when their stored heartbeat says.
    pub async fn load(store: Arc<dyn MetaStore>, timeout: Duration) -> Result<Self, StoreError> {
        let now = Instant::now();
        let now_ms = now_unix_ms();
        let shared = store.is_shared();
        let nodes = store
            .list_nodes()
            .await?
            .into_iter()
            .map(|r| {
                let (last_seen, last_seen_unix_ms) = if shared {
                    (
                        instant_of(r.last_seen_unix_ms, now, now_ms),
                        r.last_seen_unix_ms,
                    )
                } else {
                    (now, now_ms)
                };
                let entry = Entry {
                    heartbeat: r.heartbeat,
                    last_seen,
                    last_seen_unix_ms,
                    draining: r.draining,
                };
                (entry.heartbeat.id.clone(), entry)
            })
            .collect();
        Ok(Registry {
            store,
            timeout,
            nodes: RwLock::new(nodes),
            shared,
        })
    }

    /// Merges the stored records into this replica's view: heartbeats other
    /// replicas received, draining flags they set, nodes they removed. Only
    /// for a shared store; a no-op otherwise.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        if !self.shared {
            return Ok(());
        }
        let records = self.store.list_nodes().await?;
        let now = Instant::now();
        let now_ms = now_unix_ms();
        let mut nodes = self.nodes.write().unwrap_or_else(|p| p.into_inner());
        let stored: std::collections::BTreeSet<NodeId> =
            records.iter().map(|r| r.heartbeat.id.clone()).collect();
        nodes.retain(|id, _| stored.contains(id));
        for r in records {
            let seen = instant_of(r.last_seen_unix_ms, now, now_ms);
            match nodes.get_mut(&r.heartbeat.id) {
                Some(e) => {
                    e.draining = r.draining;
                    if r.last_seen_unix_ms > e.last_seen_unix_ms {
                        e.heartbeat = r.heartbeat;
                        e.last_seen = e.last_seen.max(seen);
                        e.last_seen_unix_ms = r.last_seen_unix_ms;
                    }
                }
                None => {
                    nodes.insert(
                        r.heartbeat.id.clone(),
                        Entry {
                            heartbeat: r.heartbeat,
                            last_seen: seen,
                            last_seen_unix_ms: r.last_seen_unix_ms,
                            draining: r.draining,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// Refreshes every [`REFRESH_EVERY`] until the task is dropped.
    pub async fn run_refresh(self: Arc<Self>) {
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "refreshing node liveness failed");
            }
        }
    }

    pub fn heartbeat_timeout(&self) -> Duration {
        self.timeout
    }

    /// Records a heartbeat. Persists it first if the node is new or moved,
    /// so a node is never used by address before that address is durable.
    pub async fn heartbeat(&self, hb: NodeHeartbeat) -> Result<(), StoreError> {
        let now_ms = now_unix_ms();
        let known = {
            let nodes = self.nodes.read().unwrap_or_else(|p| p.into_inner());
            nodes
                .get(&hb.id)
                .is_some_and(|e| e.heartbeat.addr == hb.addr && e.heartbeat.zone == hb.zone)
        };
        if !known || self.shared {
            self.store.put_node(hb.clone(), now_ms).await?;
        }
        if !known {
            tracing::info!(node = %hb.id, addr = %hb.addr, zone = ?hb.zone, "node registered");
        }
        let mut nodes = self.nodes.write().unwrap_or_else(|p| p.into_inner());
        let draining = nodes.get(&hb.id).is_some_and(|e| e.draining);
        nodes.insert(
            hb.id.clone(),
            Entry {
                heartbeat: hb,
                last_seen: Instant::now(),
                last_seen_unix_ms: now_ms,
                draining,
            },
        );
        Ok(())
    }

    /// Every known node with its state, sorted by id.
    pub fn list(&self) -> Vec<NodeStatus> {
        self.list_with_silence()
            .into_iter()
            .map(|(status, _)| status)
            .collect()
    }

    /// Every known node with its state and how long since its last
    /// heartbeat: repair waits a grace period before rebuilding what a
    /// down node holds.
    pub fn list_with_silence(&self) -> Vec<(NodeStatus, Duration)> {
        let now = Instant::now();
        let nodes = self.nodes.read().unwrap_or_else(|p| p.into_inner());
        nodes
            .values()
            .map(|e| {
                let silent = now.saturating_duration_since(e.last_seen);
                let status = NodeStatus {
                    heartbeat: e.heartbeat.clone(),
                    state: if silent <= self.timeout {
                        NodeState::Up
                    } else {
                        NodeState::Down
                    },
                    last_heartbeat_unix_ms: e.last_seen_unix_ms,
                    draining: e.draining,
                };
                (status, silent)
            })
            .collect()
    }

    /// Starts or stops draining a node: persisted first, then in effect.
    pub async fn set_draining(&self, id: &NodeId, draining: bool) -> Result<(), StoreError> {
        self.store.set_node_draining(id, draining).await?;
        let mut nodes = self.nodes.write().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = nodes.get_mut(id) {
            e.draining = draining;
        }
        tracing::info!(node = %id, draining, "node draining changed");
        Ok(())
    }

    /// Forgets a node (see [`MetaStore::remove_node`]). A node still
    /// sending heartbeats would only register again: it must be stopped
    /// first.
    pub async fn remove(&self, id: &NodeId) -> Result<(), RemoveNodeError> {
        let up = self
            .list()
            .iter()
            .any(|n| &n.heartbeat.id == id && n.is_up());
        if up {
            return Err(RemoveNodeError::StillUp);
        }
        self.store.remove_node(id).await?;
        let mut nodes = self.nodes.write().unwrap_or_else(|p| p.into_inner());
        nodes.remove(id);
        tracing::info!(node = %id, "node removed from the cluster");
        Ok(())
    }

    /// Only the nodes that are up.
    pub fn up_nodes(&self) -> Vec<NodeStatus> {
        let mut nodes = self.list();
        nodes.retain(NodeStatus::is_up);
        nodes
    }
}

/// The monotonic instant of a wall-clock time in the past: `now` if the time
/// is in the future (a clock slightly ahead of ours), and also, for lack of
/// a representable instant, if it is older than this machine's uptime.
fn instant_of(unix_ms: i64, now: Instant, now_ms: i64) -> Instant {
    let age = Duration::from_millis(now_ms.saturating_sub(unix_ms).max(0).unsigned_abs());
    now.checked_sub(age).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RedbStore;

    fn hb(id: &str, addr: &str) -> NodeHeartbeat {
        NodeHeartbeat {
            id: id.parse().unwrap(),
            addr: addr.into(),
            zone: None,
            capacity_bytes: 100,
            used_bytes: 1,
            shard_count: 1,
            deleted: Vec::new(),
            latency: None,
            scrub: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn nodes_go_down_without_heartbeats_and_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn MetaStore> = Arc::new(RedbStore::open(dir.path()).unwrap());
        let reg = Registry::load(store, Duration::from_secs(5)).await.unwrap();
        reg.heartbeat(hb("a", "127.0.0.1:1")).await.unwrap();
        reg.heartbeat(hb("b", "127.0.0.1:2")).await.unwrap();
        assert_eq!(reg.up_nodes().len(), 2);

        tokio::time::advance(Duration::from_secs(4)).await;
        reg.heartbeat(hb("a", "127.0.0.1:1")).await.unwrap();
        tokio::time::advance(Duration::from_secs(2)).await;
        let list = reg.list();
        assert_eq!(list[0].state, NodeState::Up);
        assert_eq!(list[1].state, NodeState::Down);

        reg.heartbeat(hb("b", "127.0.0.1:2")).await.unwrap();
        assert_eq!(reg.up_nodes().len(), 2);
    }

    #[tokio::test]
    async fn membership_survives_a_restart_but_liveness_does_not() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store: Arc<dyn MetaStore> = Arc::new(RedbStore::open(dir.path()).unwrap());
            let reg = Registry::load(store.clone(), Duration::from_millis(200))
                .await
                .unwrap();
            reg.heartbeat(hb("a", "127.0.0.1:1")).await.unwrap();
            // An address change is persisted; capacity changes need not be.
            reg.heartbeat(hb("a", "127.0.0.1:9")).await.unwrap();
            let mut fuller = hb("a", "127.0.0.1:9");
            fuller.used_bytes = 50;
            reg.heartbeat(fuller).await.unwrap();
            assert_eq!(reg.list()[0].heartbeat.used_bytes, 50);
        }
        let store: Arc<dyn MetaStore> = Arc::new(RedbStore::open(dir.path()).unwrap());
        let reg = Registry::load(store, Duration::from_millis(200))
            .await
            .unwrap();
        let list = reg.list();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].heartbeat.addr, "127.0.0.1:9");
        assert!(list[0].is_up(), "reloaded nodes count as seen at load time");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!reg.list()[0].is_up());
    }
}
