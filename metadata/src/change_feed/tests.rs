use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{ChangeFeed, LEASE, POLL_WAIT};
use crate::ids::BucketName;
use crate::wire::ChangesRequest;

fn bucket() -> BucketName {
    "media".parse().expect("valid name")
}

fn req(edge: &str, epoch: u64, after: u64) -> ChangesRequest {
    ChangesRequest {
        edge: edge.into(),
        epoch,
        after,
    }
}

#[tokio::test(start_paused = true)]
async fn a_first_poll_starts_over_from_the_present() {
    let feed = ChangeFeed::new(None);
    feed.publish(&bucket(), "a");
    let first = feed.poll(&req("e1", 0, 0)).await;
    assert!(first.reset);
    assert_eq!(first.seq, 1);
    assert_eq!(first.lease_ms, LEASE.as_millis() as u64);
    assert!(first.changes.is_empty());
}

#[tokio::test(start_paused = true)]
async fn polls_answer_the_changes_after_what_they_acknowledge() {
    let feed = ChangeFeed::new(None);
    let start = feed.poll(&req("e1", 0, 0)).await;
    feed.publish(&bucket(), "a");
    feed.publish(&bucket(), "b");
    let next = feed.poll(&req("e1", start.epoch, start.seq)).await;
    assert!(!next.reset);
    assert_eq!(next.seq, 2);
    let keys: Vec<&str> = next.changes.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    // Nothing new: the poll is held, then answers nothing.
    let held = Instant::now();
    let idle = feed.poll(&req("e1", start.epoch, 2)).await;
    assert!(idle.changes.is_empty() && !idle.reset);
    assert_eq!(idle.seq, 2);
    assert!(held.elapsed() >= POLL_WAIT);
}

#[tokio::test(start_paused = true)]
async fn a_held_poll_answers_as_soon_as_a_change_comes() {
    let feed = Arc::new(ChangeFeed::new(None));
    let start = feed.poll(&req("e1", 0, 0)).await;
    let poll = tokio::spawn({
        let feed = feed.clone();
        async move { feed.poll(&req("e1", start.epoch, start.seq)).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    feed.publish(&bucket(), "a");
    let answer = poll.await.expect("poll task");
    assert_eq!(answer.changes.len(), 1);
    assert_eq!(answer.seq, 1);
}

#[tokio::test(start_paused = true)]
async fn another_epoch_or_a_gap_in_the_log_starts_over() {
    let feed = ChangeFeed::new(None);
    let start = feed.poll(&req("e1", 0, 0)).await;
    feed.publish(&bucket(), "a");
    let other = feed.poll(&req("e1", start.epoch ^ 2, 1)).await;
    assert!(other.reset);
    for i in 0..super::LOG_CAPACITY {
        feed.publish(&bucket(), &format!("k{i}"));
    }
    let behind = feed.poll(&req("e1", start.epoch, 0)).await;
    assert!(behind.reset, "change 1 fell out of the log");
    assert_eq!(behind.seq, 1 + super::LOG_CAPACITY as u64);
}

#[tokio::test(start_paused = true)]
async fn a_write_waits_until_every_leased_edge_acknowledges_it() {
    let feed = Arc::new(ChangeFeed::new(None));
    let e1 = feed.poll(&req("e1", 0, 0)).await;
    let e2 = feed.poll(&req("e2", 0, 0)).await;
    let seq = feed.publish(&bucket(), "a");
    let settled = tokio::spawn({
        let feed = feed.clone();
        async move { feed.settle(seq).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    feed.poll(&req("e1", e1.epoch, seq)).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!settled.is_finished(), "e2 has not acknowledged the change");
    // e2 acknowledges with its next poll (answered after the hold).
    let before = Instant::now();
    tokio::spawn({
        let feed = feed.clone();
        async move { feed.poll(&req("e2", e2.epoch, seq)).await }
    });
    settled.await.expect("settle task");
    assert!(before.elapsed() < Duration::from_millis(5));
}

#[tokio::test(start_paused = true)]
async fn a_silent_edge_holds_writes_only_until_its_lease_runs_out() {
    let feed = ChangeFeed::new(None);
    let granted = Instant::now();
    feed.poll(&req("gone", 0, 0)).await;
    let seq = feed.publish(&bucket(), "a");
    feed.settle(seq).await;
    let waited = granted.elapsed();
    assert!(waited >= LEASE, "answered after {waited:?}");
    assert!(waited < LEASE + Duration::from_millis(50));
    // The expired lease holds nothing up any more.
    let later = Instant::now();
    feed.settle(feed.publish(&bucket(), "b")).await;
    assert!(later.elapsed() < Duration::from_millis(1));
}

#[tokio::test(start_paused = true)]
async fn without_edges_a_write_is_answered_at_once() {
    let feed = ChangeFeed::new(None);
    let before = Instant::now();
    feed.settle(feed.publish(&bucket(), "a")).await;
    assert_eq!(before.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_restart_after_granting_leases_waits_one_lease_before_answering_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let marker = dir.path().join(super::LEASE_MARKER);
    let first = ChangeFeed::new(Some(marker.clone()));
    assert!(!marker.exists());
    first.poll(&req("e1", 0, 0)).await;
    assert!(marker.exists(), "the first grant leaves a marker");
    // Killed: the marker stays, and the next process waits out the lease.
    drop(first);
    let second = ChangeFeed::new(Some(marker.clone()));
    let started = Instant::now();
    second.settle(second.publish(&bucket(), "a")).await;
    assert!(started.elapsed() >= LEASE);
    // A clean stop once no lease runs removes it: the next start is quick.
    second.close();
    assert!(!marker.exists());
    let third = ChangeFeed::new(Some(marker));
    let started = Instant::now();
    third.settle(third.publish(&bucket(), "a")).await;
    assert_eq!(started.elapsed(), Duration::ZERO);
}
