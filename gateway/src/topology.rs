//! The gateway's view of storage nodes: the metadata service's node list,
//! refreshed in the background, plus nodes this process has just seen fail.
//! Reads and writes consult it so that a node known to be down is never asked
//! and never costs a request a timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use metadata::client::MetadataClient;
use metadata::ids::NodeId;
use metadata::model::{NodeState, NodeStatus};

use crate::slow_nodes::SlowNodes;

pub struct Topology {
    meta: MetadataClient,
    nodes: RwLock<Arc<HashMap<NodeId, NodeStatus>>>,
    suspects: Mutex<HashMap<NodeId, Instant>>,
    /// Nodes whose reads keep running late: reads go elsewhere first for
    /// a while, but writes still place shards on them (slow is not failed).
    slow: SlowNodes,
    suspect_for: Duration,
    /// Recent shard-read latency per node, milliseconds (a moving average).
    latency_ms: Mutex<HashMap<NodeId, f64>>,
    /// When the node list was last loaded.
    refreshed_at: Mutex<Instant>,
}

/// A read about to be refused reloads the node list first, unless it is
/// fresher than this: the background refresh may lag a node's return.
const FRESH_ENOUGH: Duration = Duration::from_millis(250);

/// A read waits at least this long before asking another node: below it,
/// hedging would only add load.
const HEDGE_FLOOR: Duration = Duration::from_millis(30);
/// And at most this long, however slow the node has been: a frozen node
/// must cost a read a fraction of a second, not a timeout.
const HEDGE_CEILING: Duration = Duration::from_millis(400);

impl Topology {
    /// Loads the node list once (errors are logged; the list starts empty) and
    /// keeps it fresh every `refresh` until the returned handle is dropped.
    pub async fn start(
        meta: MetadataClient,
        refresh: Duration,
        suspect_for: Duration,
    ) -> Arc<Self> {
        let topology = Arc::new(Topology {
            meta,
            nodes: RwLock::new(Arc::new(HashMap::new())),
            suspects: Mutex::new(HashMap::new()),
            slow: SlowNodes::new(suspect_for),
            suspect_for,
            latency_ms: Mutex::new(HashMap::new()),
            refreshed_at: Mutex::new(Instant::now()),
        });
        topology.refresh().await;
        let weak = Arc::downgrade(&topology);
        tokio::spawn(refresh_loop(weak, refresh));
        topology
    }

    async fn refresh(&self) {
        match self.meta.list_nodes().await {
            Ok(list) => {
                let map = list
                    .into_iter()
                    .map(|n| (n.heartbeat.id.clone(), n))
                    .collect();
                if let Ok(mut guard) = self.nodes.write() {
                    *guard = Arc::new(map);
                }
                if let Ok(mut at) = self.refreshed_at.lock() {
                    *at = Instant::now();
                }
            }
            Err(err) => tracing::warn!(error = %err, "could not refresh the storage node list"),
        }
    }

    fn snapshot(&self) -> Arc<HashMap<NodeId, NodeStatus>> {
        self.nodes
            .read()
            .map(|g| Arc::clone(&g))
            .unwrap_or_default()
    }

    fn is_suspect(&self, id: &NodeId) -> bool {
        marked(&self.suspects, id)
    }

    /// Nodes that take new shards (up, not draining, with room) and are
    /// not suspected by this gateway: placement input.
    pub fn writable_nodes(&self) -> Vec<NodeStatus> {
        let snapshot = self.snapshot();
        let mut nodes: Vec<NodeStatus> = snapshot
            .values()
            .filter(|n| n.takes_writes(0) && !self.is_suspect(&n.heartbeat.id))
            .cloned()
            .collect();
        nodes.sort_by(|a, b| a.heartbeat.id.cmp(&b.heartbeat.id));
        nodes
    }

    /// The address of a node, if the metadata service knows it.
    pub fn addr(&self, id: &NodeId) -> Option<String> {
        self.snapshot().get(id).map(|n| n.heartbeat.addr.clone())
    }

    /// Whether a read should expect this node to answer promptly.
    pub fn is_available(&self, id: &NodeId) -> bool {
        let up = self
            .snapshot()
            .get(id)
            .is_some_and(|n| n.state == NodeState::Up);
        up && !self.is_suspect(id) && !self.slow.is_slow(id, Instant::now())
    }

    /// Records that a read on a node ran past its hedge deadline. Reads
    /// prefer other nodes for a while once its reads have kept running
    /// late (see [`SlowNodes`]); writes are unaffected.
    pub fn report_late(&self, id: &NodeId) {
        if self.slow.late(id, Instant::now()) {
            tracing::info!(node = %id, "storage node keeps answering late; reading around it for now");
        }
    }

    /// Reloads the node list now unless it was loaded very recently: for a
    /// decision (refusing a read) that a stale list would get wrong.
    pub async fn refresh_if_stale(&self) {
        let stale = self
            .refreshed_at
            .lock()
            .map(|at| at.elapsed() >= FRESH_ENOUGH)
            .unwrap_or(true);
        if stale {
            self.refresh().await;
        }
    }

    /// How many of `ids` the metadata service reports up (this gateway's
    /// own suspicions aside): a read refuses a stripe up front only when
    /// too many of its nodes are down for everyone. One view for all.
    pub fn count_up<'a>(&self, ids: impl Iterator<Item = &'a NodeId>) -> usize {
        let snapshot = self.snapshot();
        ids.filter(|id| snapshot.get(*id).is_some_and(|n| n.state == NodeState::Up))
            .count()
    }

    /// Records how long a node took to serve a shard, and whether that was
    /// within the read's hedge deadline.
    pub fn record_latency(&self, id: &NodeId, took: Duration, on_time: bool) {
        if on_time {
            self.slow.on_time(id);
        }
        let ms = took.as_secs_f64() * 1e3;
        if let Ok(mut latency) = self.latency_ms.lock() {
            let avg = latency.entry(id.clone()).or_insert(ms);
            *avg = 0.8 * *avg + 0.2 * ms;
        }
    }

    /// How long a read waits for this node before also asking another:
    /// a few times its recent latency, within [`HEDGE_FLOOR`] and
    /// [`HEDGE_CEILING`] (the ceiling for a node not heard from yet).
    pub fn hedge_after(&self, id: &NodeId) -> Duration {
        let avg = self.latency_ms.lock().ok().and_then(|l| l.get(id).copied());
        match avg {
            Some(ms) => Duration::from_secs_f64(ms * 4.0 / 1e3).clamp(HEDGE_FLOOR, HEDGE_CEILING),
            None => HEDGE_CEILING,
        }
    }

    /// Records that a node just failed a request: it is avoided for a while.
    pub fn report_failure(&self, id: &NodeId) {
        if let Ok(mut suspects) = self.suspects.lock() {
            suspects.insert(id.clone(), Instant::now() + self.suspect_for);
        }
        tracing::info!(node = %id, "storage node failed a request; avoiding it for now");
    }
}

/// Whether `id` is marked in `marks` and the mark has not expired (an
/// expired mark is dropped).
fn marked(marks: &Mutex<HashMap<NodeId, Instant>>, id: &NodeId) -> bool {
    let Ok(mut marks) = marks.lock() else {
        return false;
    };
    match marks.get(id) {
        Some(until) if *until > Instant::now() => true,
        Some(_) => {
            marks.remove(id);
            false
        }
        None => false,
    }
}

async fn refresh_loop(topology: Weak<Topology>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(t) = topology.upgrade() else { return };
        t.refresh().await;
    }
}
