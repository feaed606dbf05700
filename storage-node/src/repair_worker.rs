//! The node's side of repair: ask the metadata service for tasks aimed at
//! this node, rebuild them a few at a time, and report each result with
//! the next request. A task lost to a crash is planned again by metadata
//! once its lease runs out, so nothing here needs to be durable.

use std::sync::Arc;
use std::time::{Duration, Instant};

use metadata::client::MetadataClient;
use metadata::ids::NodeId;
use metadata::model::{RepairReport, now_unix_ms};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::rebuild::Rebuilder;

/// How often an idle node asks for work.
const POLL: Duration = Duration::from_secs(1);
/// One warning per this long while metadata is unreachable.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// Runs until `cancel`. Results not yet reported when it stops are lost
/// with their leases, and planned again.
pub async fn run_repairs(
    meta: MetadataClient,
    rebuilder: Arc<Rebuilder>,
    node: NodeId,
    concurrency: usize,
    cancel: CancellationToken,
) {
    let mut running: JoinSet<RepairReport> = JoinSet::new();
    let mut done: Vec<RepairReport> = Vec::new();
    let mut last_warn: Option<Instant> = None;
    loop {
        while let Some(finished) = running.try_join_next() {
            if let Ok(report) = finished {
                done.push(report);
            }
        }
        let want = concurrency.saturating_sub(running.len());
        if want > 0 || !done.is_empty() {
            let reports = std::mem::take(&mut done);
            let want = u32::try_from(want).unwrap_or(u32::MAX);
            match meta.claim_repairs(&node, want, reports.clone()).await {
                Ok(tasks) => {
                    last_warn = None;
                    for task in tasks {
                        let rebuilder = Arc::clone(&rebuilder);
                        running.spawn(async move {
                            let started_unix_ms = now_unix_ms();
                            let outcome = rebuilder.run(&task).await;
                            RepairReport {
                                task,
                                started_unix_ms,
                                outcome,
                            }
                        });
                    }
                }
                Err(e) => {
                    done = reports;
                    if last_warn.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                        tracing::warn!(error = %e, "cannot reach metadata for repair work");
                        last_warn = Some(Instant::now());
                    }
                }
            }
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            Some(finished) = running.join_next(), if !running.is_empty() => {
                if let Ok(report) = finished {
                    done.push(report);
                }
            }
            () = tokio::time::sleep(POLL) => {}
        }
    }
    running.abort_all();
}
