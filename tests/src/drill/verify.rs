//! The last word of a drill: every acknowledged object read back whole and
//! compared byte for byte. A read that fails is tried again (a moment of
//! unavailability is not loss); an object that never reads back right is
//! lost.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use futures::StreamExt;

use super::ledger::Acknowledged;
use super::traffic::{ReadOutcome, read_and_check};

/// Tries per object before it counts as lost.
pub const ATTEMPTS: u32 = 3;
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// Lost keys listed by name in a report (the count is always complete).
const LOST_KEYS_SHOWN: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    pub checked: usize,
    pub lost: usize,
    /// The first lost keys, with the last error of each.
    pub lost_examples: Vec<String>,
    /// Complete answers with wrong bytes, over all attempts.
    pub wrong_bodies: u64,
    /// Objects that read back right only after a failed attempt.
    pub recovered_on_retry: usize,
}

impl Verification {
    /// Folds in the outcome of one object's reads.
    pub fn add(&mut self, key: &str, outcomes: &[ReadOutcome]) {
        self.checked += 1;
        self.wrong_bodies += outcomes
            .iter()
            .filter(|o| matches!(o, ReadOutcome::Wrong(_)))
            .count() as u64;
        match outcomes.last() {
            Some(ReadOutcome::Correct) if outcomes.len() > 1 => self.recovered_on_retry += 1,
            Some(ReadOutcome::Correct) => {}
            last => {
                self.lost += 1;
                if self.lost_examples.len() < LOST_KEYS_SHOWN {
                    let why = match last {
                        Some(ReadOutcome::Failed(e) | ReadOutcome::Wrong(e)) => e.as_str(),
                        _ => "never read",
                    };
                    self.lost_examples.push(format!("{key}: {why}"));
                }
            }
        }
    }
}

/// Reads every entry whole, `concurrency` at a time.
pub async fn verify_all(
    s3: &Client,
    bucket: &str,
    entries: Vec<Arc<Acknowledged>>,
    concurrency: usize,
) -> Verification {
    let mut results = futures::stream::iter(entries)
        .map(|entry| async move {
            let mut outcomes = Vec::new();
            for attempt in 1..=ATTEMPTS {
                let outcome = read_and_check(s3, bucket, &entry, None).await;
                let done = outcome == ReadOutcome::Correct;
                outcomes.push(outcome);
                if done || attempt == ATTEMPTS {
                    break;
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            (entry, outcomes)
        })
        .buffer_unordered(concurrency.max(1));
    let mut v = Verification::default();
    while let Some((entry, outcomes)) = results.next().await {
        v.add(&entry.key, &outcomes);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_means_never_read_back_right() {
        let mut v = Verification::default();
        v.add("fine", &[ReadOutcome::Correct]);
        v.add(
            "late",
            &[ReadOutcome::Failed("503".into()), ReadOutcome::Correct],
        );
        v.add(
            "gone",
            &[
                ReadOutcome::Failed("404".into()),
                ReadOutcome::Failed("404".into()),
            ],
        );
        v.add(
            "bad",
            &[
                ReadOutcome::Wrong("bytes".into()),
                ReadOutcome::Wrong("bytes".into()),
            ],
        );
        assert_eq!(v.checked, 4);
        assert_eq!(v.lost, 2);
        assert_eq!(v.recovered_on_retry, 1);
        assert_eq!(v.wrong_bodies, 2);
        assert_eq!(v.lost_examples, ["gone: 404", "bad: bytes"]);
    }
}
