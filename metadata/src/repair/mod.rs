//! Repair: back to full redundancy after a node is lost, drained, or found
//! holding bad copies.
//!
//! The metadata service plans and storage nodes rebuild. A walk over every
//! manifest judges each stripe against one [`NodeView`] (who is up, who
//! has been silent past `repair_after`, who is draining, which copies were
//! reported bad) and queues a task per shard to rebuild, stripes with the
//! fewest readable shards first. Each storage node asks for tasks aimed at
//! it, pulls `k` survivors from its peers, rebuilds the shard (whose hash
//! the manifest already names, so the result is proven before it is
//! stored), and reports back; only then does the manifest move to the new
//! node, in one transaction per batch.
//!
//! Nothing here needs to survive a restart: the queue is derived from the
//! manifests, so the first walk after a restart plans what is still owed.
//! A walk that finds nothing to do is the verification pass: it proves the
//! debt is zero from the manifests themselves, not from an emptied queue.
//! The walk reads every manifest, in pages, each in its own read
//! transaction; it runs when there is reason to (a node crosses the grace
//! period, membership changes, a report of a bad copy, the queue drains)
//! and every `scan_every` otherwise.
//!
//! The same walk plans rebalance (see [`rebalance`]): a stripe at full
//! redundancy with shards off the nodes placement prefers now (a node
//! joined) gets those shards moved, and only those, by the same tasks,
//! after every repair and a bounded number at a time.

mod node_view;
mod plan;
mod queue;
pub mod rebalance;
mod stripe_health;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::time::Instant;

pub use node_view::{NodeCondition, NodeView};
pub use plan::{Deferred, Planned, Planner, Tally, TaskKind};
pub use queue::RepairQueue;
pub use rebalance::RebalanceDebt;
pub use stripe_health::{ShardState, StripeHealth, assess};

use crate::ids::NodeId;
use crate::model::{
    MoveOutcome, RedundancyReport, RepairClaim, RepairOutcome, RepairReport, RepairTask, ShardMove,
    SuspectShard, now_unix_ms,
};
use crate::registry::Registry;
use crate::store::{MetaStore, StoreError};

/// The default for `--repair-after`: how long a node may be silent before
/// what it holds is rebuilt elsewhere. Long enough for a reboot or a
/// process restart; a node that comes back later is reconciled (its moved
/// shards are deleted from it, the rest are kept).
pub const DEFAULT_REPAIR_AFTER: Duration = Duration::from_secs(300);
/// The default for `--repair-scan-every`: the walk that proves the data
/// has full redundancy, when nothing else prompts one.
pub const DEFAULT_SCAN_EVERY: Duration = Duration::from_secs(300);
/// The default for `--rebalance-moves`: rebalance moves in flight across
/// the cluster. Each is one shard read and one written; eight keep a
/// joining node busy (it runs up to `--repair-concurrency` at once) while
/// every other node serves a shard read now and then.
pub const DEFAULT_REBALANCE_MOVES: usize = 8;
/// How often membership is compared with the last walk's: a node that
/// joins, leaves or comes back prompts a walk within this long.
const MEMBERSHIP_CHECK: Duration = Duration::from_secs(1);
/// Rows of `data` read per page of a walk.
const PAGE: usize = 512;
/// A walk plans at most this many tasks; the next walk plans the rest.
const MAX_PLANNED: usize = 100_000;
/// A reported bad copy is forgotten after this long if no walk acted on
/// it (the node keeps reporting what it still finds).
const SUSPECT_TTL: Duration = Duration::from_secs(3600);
/// Clock skew allowed between a storage node and the metadata service
/// when a rebuilt file's write time is compared with deletions.
const CLOCK_SKEW_MS: i64 = 2_000;
/// The window over which the repair rate is measured.
const RATE_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
pub struct RepairConfig {
    pub repair_after: Duration,
    pub scan_every: Duration,
    /// Most rebalance moves in flight; 0 turns rebalance off.
    pub rebalance_moves: usize,
}

impl Default for RepairConfig {
    fn default() -> Self {
        RepairConfig {
            repair_after: DEFAULT_REPAIR_AFTER,
            scan_every: DEFAULT_SCAN_EVERY,
            rebalance_moves: DEFAULT_REBALANCE_MOVES,
        }
    }
}

/// The last walk, as the operator view shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkSummary {
    pub finished_unix_ms: i64,
    pub took_ms: u64,
    /// Repair tasks planned.
    pub planned_tasks: u64,
    pub deferred: Deferred,
    pub redundancy: RedundancyReport,
    /// Rebalance moves planned.
    #[serde(default)]
    pub planned_moves: u64,
    /// Shards found off their preferred nodes in healthy stripes.
    #[serde(default)]
    pub rebalance: RebalanceDebt,
}

/// Rebalance at a glance: moves of healthy shards to the nodes placement
/// prefers now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebalanceStatus {
    /// Most moves in flight at once; 0: rebalance is off.
    pub max_in_flight: u64,
    /// Moves waiting (for their node, for repair to finish, or for a free
    /// place among those in flight), and handed out.
    pub queued: u64,
    pub in_flight: u64,
    /// Since the service started.
    pub moved_shards: u64,
    pub moved_bytes: u64,
    /// Found by the last walk: shards still off their preferred node, and
    /// how many of those wait for their new node to take writes. Progress
    /// is `moved / (moved + remaining)`.
    pub remaining_shards: u64,
    pub remaining_bytes: u64,
    pub blocked_shards: u64,
}

/// Repair at a glance, for the operator view and the drill.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RepairStatus {
    pub repair_after_ms: u64,
    /// Tasks waiting for their node, and handed out.
    pub queued: u64,
    pub in_flight: u64,
    /// Since the service started.
    pub rebuilt_shards: u64,
    /// Bytes of shards rebuilt and stored.
    pub rebuilt_bytes: u64,
    /// Bytes read from survivors to rebuild them.
    pub fetched_bytes: u64,
    /// Tasks whose target already held a good copy (a node back with its
    /// disk intact, a report that proved wrong).
    pub held_shards: u64,
    pub failed_tasks: u64,
    /// Manifest entries moved to a new node.
    pub moved_shards: u64,
    /// Rebuilt bytes per second over the last minute.
    pub rate_bytes_per_sec: f64,
    /// Copies reported missing or corrupt, not yet repaired.
    pub suspects: u64,
    pub last_walk: Option<WalkSummary>,
    /// When a walk last found every stripe at full redundancy.
    pub verified_full_unix_ms: Option<i64>,
    #[serde(default)]
    pub rebalance: RebalanceStatus,
}

impl Eq for RepairStatus {}

#[derive(Debug, Default)]
struct Counters {
    rebuilt_shards: u64,
    rebuilt_bytes: u64,
    fetched_bytes: u64,
    held_shards: u64,
    failed_tasks: u64,
    moved_shards: u64,
    rebalanced_shards: u64,
    rebalanced_bytes: u64,
}

#[derive(Debug, Default)]
struct State {
    queue: RepairQueue,
    suspects: HashMap<SuspectShard, Instant>,
    counters: Counters,
    recent: VecDeque<(Instant, u64)>,
    last_walk: Option<WalkSummary>,
    verified_full_unix_ms: Option<i64>,
    /// Membership as the last walk saw it.
    walked_membership: Vec<(NodeId, bool, bool)>,
}

/// The planner and dispatcher. Share it with an `Arc`; [`Repairer::run`]
/// walks, the API hands out tasks and takes reports.
pub struct Repairer {
    store: Arc<dyn MetaStore>,
    registry: Arc<Registry>,
    config: RepairConfig,
    state: Mutex<State>,
    wake: Notify,
    /// One walk at a time (the loop's and the status view's).
    walking: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Repairer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repairer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Repairer {
    pub fn new(store: Arc<dyn MetaStore>, registry: Arc<Registry>, config: RepairConfig) -> Self {
        Repairer {
            store,
            registry,
            config,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            walking: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Walks now, then whenever prompted or `scan_every` passes, and in
    /// time for each down node to cross the grace period. Runs until the
    /// task is dropped.
    pub async fn run(self: Arc<Self>) {
        loop {
            let started = Instant::now();
            match self.walk().await {
                Ok(summary) => {
                    if summary.planned_tasks > 0 {
                        tracing::info!(
                            tasks = summary.planned_tasks,
                            waiting = summary.deferred.waiting_shards,
                            no_spare = summary.deferred.no_spare_shards,
                            took_ms = summary.took_ms,
                            "repair planned"
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e, "repair walk failed"),
            }
            let due = Instant::now() + self.next_walk_in();
            loop {
                let now = Instant::now();
                if now >= due || self.membership() != self.state().walked_membership {
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep(MEMBERSHIP_CHECK.min(due - now)) => {}
                    () = self.wake.notified() => {
                        // Let a burst of reports arrive before walking again.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        break;
                    }
                }
            }
            metrics::histogram!("metadata_repair_walk_seconds")
                .record(started.elapsed().as_secs_f64());
        }
    }

    /// `scan_every`, or sooner if a down node crosses the grace period.
    fn next_walk_in(&self) -> Duration {
        let after = self.config.repair_after;
        self.registry
            .list_with_silence()
            .into_iter()
            .filter(|(n, silent)| !n.is_up() && *silent < after)
            .map(|(_, silent)| after - silent + Duration::from_millis(100))
            .fold(self.config.scan_every, Duration::min)
    }

    /// Per node: whether it is a placement member and whether it is up.
    /// A change (a node joining, given up on, drained, or back) is what
    /// makes rebalance and repair plans differ, so it prompts a walk.
    fn membership(&self) -> Vec<(NodeId, bool, bool)> {
        let after = self.config.repair_after;
        let mut out: Vec<(NodeId, bool, bool)> = self
            .registry
            .list_with_silence()
            .into_iter()
            .map(|(n, silent)| {
                let member = !n.draining && (n.is_up() || silent < after);
                let up = n.is_up();
                (n.heartbeat.id, member, up)
            })
            .collect();
        out.sort();
        out
    }

    fn view(&self) -> NodeView {
        let now = Instant::now();
        let suspects: HashSet<SuspectShard> = {
            let mut state = self.state();
            state
                .suspects
                .retain(|_, at| now.saturating_duration_since(*at) < SUSPECT_TTL);
            state.suspects.keys().cloned().collect()
        };
        NodeView::new(
            self.registry.list_with_silence(),
            suspects,
            self.config.repair_after,
        )
    }

    /// One walk over every manifest: replaces the queue with what is owed
    /// now and records the redundancy it found.
    pub async fn walk(&self) -> Result<WalkSummary, StoreError> {
        let _one = self.walking.lock().await;
        let started = Instant::now();
        let membership = self.membership();
        let view = self.view();
        let planner = Planner::new(&view, self.config.rebalance_moves > 0);
        let mut tally = Tally::default();
        let mut planned = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.scan_data(after, PAGE).await?;
            let full = page.len() == PAGE;
            for (version, data) in &page {
                let out = if planned.len() < MAX_PLANNED {
                    &mut planned
                } else {
                    &mut Vec::new()
                };
                planner.plan_data(*version, data, &mut tally, out);
            }
            after = page.last().map(|(v, _)| *v);
            if !full {
                break;
            }
        }
        let moves = planned
            .iter()
            .filter(|p| p.kind == TaskKind::Rebalance)
            .count() as u64;
        let summary = WalkSummary {
            finished_unix_ms: now_unix_ms(),
            took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            planned_tasks: planned.len() as u64 - moves,
            deferred: tally.deferred,
            redundancy: tally.report,
            planned_moves: moves,
            rebalance: tally.rebalance,
        };
        let mut state = self.state();
        state.queue.replace_plan(planned);
        state.walked_membership = membership;
        if summary.planned_tasks == 0 && summary.redundancy.is_full() {
            state.verified_full_unix_ms = Some(summary.finished_unix_ms);
        }
        metrics::gauge!("metadata_repair_queued").set(state.queue.pending() as f64);
        metrics::gauge!("metadata_redundancy_debt_bytes")
            .set(summary.redundancy.degraded_bytes as f64);
        metrics::gauge!("metadata_unreadable_stripes").set(summary.redundancy.unreadable as f64);
        metrics::gauge!("metadata_rebalance_remaining_shards").set(summary.rebalance.shards as f64);
        state.last_walk = Some(summary.clone());
        Ok(summary)
    }

    /// Asks for a walk soon (membership or draining changed).
    pub fn prompt(&self) {
        self.wake.notify_one();
    }

    /// Copies found missing or corrupt: repaired by the next walk.
    pub fn report_suspects(&self, suspects: Vec<SuspectShard>) {
        if suspects.is_empty() {
            return;
        }
        let now = Instant::now();
        metrics::counter!("metadata_suspect_shards_total").increment(suspects.len() as u64);
        {
            let mut state = self.state();
            for s in suspects {
                tracing::info!(node = %s.node, shard = %s.hash, "shard copy reported missing or corrupt");
                state.suspects.insert(s, now);
            }
        }
        self.wake.notify_one();
    }

    /// Takes a node's finished tasks and hands it up to `want` more.
    pub async fn claim(&self, claim: RepairClaim) -> Result<Vec<RepairTask>, StoreError> {
        self.apply_reports(claim.done).await?;
        let want = usize::try_from(claim.want).unwrap_or(usize::MAX).min(256);
        let limit = self.config.rebalance_moves;
        let tasks = self
            .state()
            .queue
            .claim(&claim.node, want, limit, Instant::now());
        Ok(tasks)
    }

    async fn apply_reports(&self, done: Vec<RepairReport>) -> Result<(), StoreError> {
        if done.is_empty() {
            return Ok(());
        }
        let mut moves = Vec::new();
        let mut kinds = Vec::new();
        let mut replan = false;
        {
            let mut state = self.state();
            for r in &done {
                let kind = state.queue.finish(&r.task.slot);
                match &r.outcome {
                    RepairOutcome::Failed { error } => {
                        tracing::warn!(
                            target_node = %r.task.target,
                            shard = %r.task.hash,
                            error = %error,
                            "repair task failed; it will be planned again"
                        );
                        state.counters.failed_tasks += 1;
                        replan = true;
                        continue;
                    }
                    RepairOutcome::Rebuilt { fetched_bytes } => {
                        state.counters.rebuilt_shards += 1;
                        state.counters.rebuilt_bytes += u64::from(r.task.shard_len);
                        state.counters.fetched_bytes += fetched_bytes;
                        state
                            .recent
                            .push_back((Instant::now(), u64::from(r.task.shard_len)));
                    }
                    RepairOutcome::Held => state.counters.held_shards += 1,
                }
                if r.task.is_move() {
                    kinds.push((kind, r.task.shard_len));
                    moves.push(ShardMove {
                        slot: r.task.slot,
                        hash: r.task.hash,
                        from: r.task.from.clone(),
                        to: r.task.target.clone(),
                        written_since_unix_ms: r.started_unix_ms - CLOCK_SKEW_MS,
                    });
                } else {
                    state.suspects.remove(&SuspectShard {
                        node: r.task.target.clone(),
                        hash: r.task.hash,
                    });
                }
            }
        }
        let outcomes = if moves.is_empty() {
            Vec::new()
        } else {
            self.store.move_shards(moves.clone()).await?
        };
        {
            let mut state = self.state();
            for ((mv, outcome), (kind, len)) in moves.iter().zip(&outcomes).zip(&kinds) {
                match outcome {
                    MoveOutcome::Moved => {
                        state.counters.moved_shards += 1;
                        if *kind == Some(TaskKind::Rebalance) {
                            state.counters.rebalanced_shards += 1;
                            state.counters.rebalanced_bytes += u64::from(*len);
                            metrics::counter!("metadata_rebalanced_shards_total").increment(1);
                        }
                        state.suspects.remove(&SuspectShard {
                            node: mv.from.clone(),
                            hash: mv.hash,
                        });
                    }
                    MoveOutcome::Stale | MoveOutcome::Collected => {
                        tracing::debug!(slot = ?mv.slot, ?outcome, "repaired shard not moved");
                        replan = true;
                    }
                }
            }
            metrics::counter!("metadata_repaired_shards_total").increment(outcomes.len() as u64);
            if state.queue.is_idle() {
                // Prove the result with a walk rather than trust the queue.
                replan = true;
            }
        }
        if replan {
            self.wake.notify_one();
        }
        Ok(())
    }

    pub fn status(&self) -> RepairStatus {
        let now = Instant::now();
        let mut state = self.state();
        while state
            .recent
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > RATE_WINDOW)
        {
            state.recent.pop_front();
        }
        let recent: u64 = state.recent.iter().map(|(_, b)| b).sum();
        let c = &state.counters;
        let debt = state
            .last_walk
            .as_ref()
            .map(|w| w.rebalance)
            .unwrap_or_default();
        let rebalance = RebalanceStatus {
            max_in_flight: self.config.rebalance_moves as u64,
            queued: state.queue.rebalance_pending() as u64,
            in_flight: state.queue.rebalance_in_flight() as u64,
            moved_shards: c.rebalanced_shards,
            moved_bytes: c.rebalanced_bytes,
            remaining_shards: debt.shards,
            remaining_bytes: debt.bytes,
            blocked_shards: debt.blocked_shards,
        };
        RepairStatus {
            repair_after_ms: u64::try_from(self.config.repair_after.as_millis())
                .unwrap_or(u64::MAX),
            queued: state.queue.pending() as u64,
            in_flight: state.queue.in_flight() as u64,
            rebuilt_shards: c.rebuilt_shards,
            rebuilt_bytes: c.rebuilt_bytes,
            fetched_bytes: c.fetched_bytes,
            held_shards: c.held_shards,
            failed_tasks: c.failed_tasks,
            moved_shards: c.moved_shards,
            rate_bytes_per_sec: recent as f64 / RATE_WINDOW.as_secs_f64(),
            suspects: state.suspects.len() as u64,
            last_walk: state.last_walk.clone(),
            verified_full_unix_ms: state.verified_full_unix_ms,
            rebalance,
        }
    }
}
