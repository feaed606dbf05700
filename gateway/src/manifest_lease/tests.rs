use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ManifestLease;
use crate::head_queue::ObjectName;

fn name(key: &str) -> ObjectName {
    ("media".parse().expect("valid name"), key.to_owned())
}

#[test]
fn a_fetch_nothing_overtook_may_be_trusted() {
    let lease = Arc::new(ManifestLease::new());
    let fetch = lease.fetch_started(&name("a"));
    lease.overtake(&name("b"));
    assert!(fetch.finish());
}

#[test]
fn a_change_of_the_key_overtakes_its_running_fetches() {
    let lease = Arc::new(ManifestLease::new());
    let first = lease.fetch_started(&name("a"));
    let second = lease.fetch_started(&name("a"));
    lease.overtake(&name("a"));
    assert!(!first.finish());
    assert!(!second.finish());
    // Finished fetches leave nothing behind: the next one starts clean.
    assert!(lease.fetch_started(&name("a")).finish());
}

#[test]
fn a_reset_overtakes_every_running_fetch() {
    let lease = Arc::new(ManifestLease::new());
    let a = lease.fetch_started(&name("a"));
    let b = lease.fetch_started(&name("b"));
    lease.overtake_all();
    assert!(!a.finish());
    assert!(!b.finish());
}

#[test]
fn an_abandoned_fetch_unregisters_itself() {
    let lease = Arc::new(ManifestLease::new());
    drop(lease.fetch_started(&name("a")));
    assert!(lease.lock().is_empty());
}

#[test]
fn the_lease_holds_until_its_end_and_not_before_the_first_poll() {
    let lease = ManifestLease::new();
    assert!(!lease.holds());
    lease.trust_until(Instant::now() + Duration::from_secs(60));
    assert!(lease.holds());
    lease.trust_until(Instant::now() - Duration::from_millis(1));
    assert!(!lease.holds());
    lease.trust_until(Instant::now() + Duration::from_secs(60));
    lease.revoke();
    assert!(!lease.holds());
}
