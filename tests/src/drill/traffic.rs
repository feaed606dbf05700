//! The drill's traffic: writes that add acknowledged objects to the ledger,
//! and reads of random ledger objects (whole or a range) whose every byte is
//! checked. An operation is counted in the phase it ended in: one that
//! started before the fault and waited on a frozen node met the fault.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use rand::{Rng, SeedableRng};

use super::ledger::{Acknowledged, ByteRange, Ledger};
use super::shapes::Shape;
use crate::pattern;

/// Error texts kept per kind of operation and phase, to show what failed.
const SAMPLE_ERRORS: usize = 5;

/// Writes the objects of one drill run: keys `<prefix>/<n>`, bodies
/// `pattern(size, run_seed + n)`.
#[derive(Debug)]
pub struct ObjectWriter {
    s3: Client,
    bucket: String,
    prefix: String,
    run_seed: u64,
    next: AtomicU64,
}

impl ObjectWriter {
    pub fn new(s3: Client, bucket: &str, prefix: &str, run_seed: u64) -> Self {
        ObjectWriter {
            s3,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            run_seed,
            next: AtomicU64::new(0),
        }
    }

    /// Writes the run's next object; `Ok` only once the store acknowledged
    /// it, with what the ledger must remember of it.
    pub async fn write_next(&self) -> Result<Acknowledged, String> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let seed = self.run_seed.wrapping_add(n);
        let shape = Shape::nth(n, &mut rand::rngs::StdRng::seed_from_u64(seed));
        let key = format!("{}/{n:06}", self.prefix);
        let body = Bytes::from(pattern(shape.size(), seed));
        match &shape {
            Shape::Put(_) => self.put(&key, body.clone()).await?,
            Shape::Multipart(parts) => self.multipart(&key, &body, parts).await?,
        }
        Ok(Acknowledged::new(
            key,
            seed,
            &body,
            matches!(shape, Shape::Multipart(_)),
        ))
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<(), String> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| describe("PUT", key, &e))?;
        Ok(())
    }

    async fn multipart(&self, key: &str, body: &Bytes, parts: &[usize]) -> Result<(), String> {
        let created = self
            .s3
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| describe("CreateMultipartUpload", key, &e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| format!("CreateMultipartUpload {key}: no upload id"))?
            .to_owned();
        let result = self.upload_parts(key, &upload_id, body, parts).await;
        if result.is_err() {
            // Best effort: the collector reclaims an upload left open anyway.
            let _ = self
                .s3
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        body: &Bytes,
        parts: &[usize],
    ) -> Result<(), String> {
        let mut done = Vec::new();
        let mut offset = 0;
        for (i, &len) in parts.iter().enumerate() {
            let number = i32::try_from(i + 1).map_err(|e| e.to_string())?;
            let out = self
                .s3
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(body.slice(offset..offset + len)))
                .send()
                .await
                .map_err(|e| describe("UploadPart", key, &e))?;
            offset += len;
            done.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_owned))
                    .build(),
            );
        }
        self.s3
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| describe("CompleteMultipartUpload", key, &e))?;
        Ok(())
    }
}

/// How a read of an acknowledged object went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    Correct,
    /// No body, or a body cut short by an error: the store admitted it
    /// could not serve the read.
    Failed(String),
    /// A complete answer with the wrong bytes: the worst outcome.
    Wrong(String),
}

/// Reads `entry` (or `range` of it) and checks every byte.
pub async fn read_and_check(
    s3: &Client,
    bucket: &str,
    entry: &Acknowledged,
    range: Option<ByteRange>,
) -> ReadOutcome {
    let mut req = s3.get_object().bucket(bucket).key(&entry.key);
    if let Some(r) = range {
        req = req.range(r.header());
    }
    let out = match req.send().await {
        Ok(out) => out,
        Err(e) => return ReadOutcome::Failed(describe("GET", &entry.key, &e)),
    };
    let body = match out.body.collect().await {
        Ok(b) => b.into_bytes(),
        Err(e) => {
            return ReadOutcome::Failed(format!("GET {}: body: {e}", entry.key));
        }
    };
    if entry.matches(range, &body) {
        ReadOutcome::Correct
    } else {
        let what = range.map_or_else(|| "whole object".to_owned(), |r| r.header());
        ReadOutcome::Wrong(format!(
            "GET {} ({what}): {} bytes that are not the ones written",
            entry.key,
            body.len()
        ))
    }
}

fn describe<E: std::error::Error>(op: &str, key: &str, e: &E) -> String {
    let mut text = format!("{op} {key}: {}", DisplayErrorContext(e));
    text.truncate(300);
    text
}

/// Counts of one kind of operation in one phase.
#[derive(Debug, Clone, Default)]
pub struct OpCounts {
    pub attempted: u64,
    pub failed: u64,
    pub wrong_bodies: u64,
    /// Of the operations that succeeded.
    pub latencies: Vec<Duration>,
    /// The first few error texts.
    pub sample_errors: Vec<String>,
}

impl OpCounts {
    fn record_ok(&mut self, latency: Duration) {
        self.attempted += 1;
        self.latencies.push(latency);
    }

    fn record_failed(&mut self, error: String) {
        self.attempted += 1;
        self.failed += 1;
        self.sample(error);
    }

    fn record_wrong(&mut self, error: String) {
        self.attempted += 1;
        self.wrong_bodies += 1;
        self.sample(error);
    }

    fn sample(&mut self, error: String) {
        if self.sample_errors.len() < SAMPLE_ERRORS {
            self.sample_errors.push(error);
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct PhaseCounts {
    pub reads: OpCounts,
    pub writes: OpCounts,
}

/// The phases traffic is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before any fault.
    Baseline = 0,
    /// From the fault until the cluster is back to full redundancy.
    Fault = 1,
}

/// Spaces operations out to a rate shared by all workers. A worker that
/// falls behind is not owed a burst: the next slot is never in the past.
#[derive(Debug)]
pub struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl Pacer {
    /// `per_second <= 0`: no pacing.
    pub fn new(per_second: f64) -> Self {
        Pacer {
            interval: (per_second > 0.0).then(|| Duration::from_secs_f64(1.0 / per_second)),
            next: Mutex::new(Instant::now()),
        }
    }

    /// The start time of the next operation, taken by the caller.
    pub fn next_slot(&self, now: Instant) -> Instant {
        let Some(interval) = self.interval else {
            return now;
        };
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (*next).max(now);
        *next = slot + interval;
        slot
    }

    pub async fn wait(&self) {
        let slot = self.next_slot(Instant::now());
        tokio::time::sleep_until(slot.into()).await;
    }
}

/// How much traffic runs during the drill.
#[derive(Debug, Clone)]
pub struct TrafficConfig {
    pub readers: usize,
    pub writers: usize,
    /// Reads per second across all readers (0: as fast as they go).
    pub read_rate: f64,
    /// Writes per second across all writers (0: as fast as they go).
    pub write_rate: f64,
    /// Longest range a ranged read asks for.
    pub max_range: usize,
    /// Where to append one line per finished operation: its end as Unix
    /// seconds, `read` or `write`, its latency in ms, `ok` or `failed`, and
    /// the phase. For splitting the fault phase afterwards (before repair
    /// starts, while it runs) with timestamps from the cluster's status.
    pub latency_log: Option<std::path::PathBuf>,
}

/// The per-operation log of [`TrafficConfig::latency_log`].
#[derive(Debug, Default)]
struct OpLog(Mutex<Option<std::io::BufWriter<std::fs::File>>>);

impl OpLog {
    fn open(path: Option<&std::path::Path>) -> std::io::Result<Self> {
        let file = match path {
            Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
            None => None,
        };
        Ok(OpLog(Mutex::new(file)))
    }

    fn record(&self, op: &str, latency: Duration, ok: bool, phase: usize) {
        use std::io::Write as _;
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(out) = guard.as_mut() else { return };
        let end = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let phase = if phase == Phase::Baseline as usize {
            "baseline"
        } else {
            "fault"
        };
        let outcome = if ok { "ok" } else { "failed" };
        // A full disk only loses the log, not the drill.
        let _ = writeln!(
            out,
            "{end:.3} {op} {:.3} {outcome} {phase}",
            latency.as_secs_f64() * 1e3
        );
    }

    fn flush(&self) {
        use std::io::Write as _;
        if let Some(out) = self.0.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            let _ = out.flush();
        }
    }
}

struct Shared {
    phase: AtomicUsize,
    stop: AtomicBool,
    counts: [Mutex<PhaseCounts>; 2],
    log: OpLog,
}

impl Shared {
    fn counts(&self, phase: usize) -> std::sync::MutexGuard<'_, PhaseCounts> {
        self.counts[phase].lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Readers and writers running in the background until stopped.
pub struct Traffic {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// How long stopping waits for operations in flight (an S3 call gives up
/// after 60 s on its own).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(90);

impl Traffic {
    /// `reader` should not retry (a drill counts what a single attempt
    /// gets); writes go through `writer`'s client.
    pub fn start(
        config: &TrafficConfig,
        writer: Arc<ObjectWriter>,
        reader: Client,
        ledger: Arc<Ledger>,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            phase: AtomicUsize::new(Phase::Baseline as usize),
            stop: AtomicBool::new(false),
            counts: Default::default(),
            log: OpLog::open(config.latency_log.as_deref())?,
        });
        let read_pacer = Arc::new(Pacer::new(config.read_rate));
        let write_pacer = Arc::new(Pacer::new(config.write_rate));
        let mut tasks = Vec::new();
        for _ in 0..config.writers {
            let (shared, writer, ledger, pacer) = (
                Arc::clone(&shared),
                Arc::clone(&writer),
                Arc::clone(&ledger),
                Arc::clone(&write_pacer),
            );
            tasks.push(tokio::spawn(async move {
                loop {
                    pacer.wait().await;
                    if shared.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let started = Instant::now();
                    let result = writer.write_next().await;
                    let latency = started.elapsed();
                    let phase = shared.phase.load(Ordering::Relaxed);
                    shared.log.record("write", latency, result.is_ok(), phase);
                    let mut counts = shared.counts(phase);
                    match result {
                        Ok(entry) => {
                            ledger.record(entry);
                            counts.writes.record_ok(latency);
                        }
                        Err(e) => counts.writes.record_failed(e),
                    }
                }
            }));
        }
        for _ in 0..config.readers {
            let (shared, s3, ledger, pacer) = (
                Arc::clone(&shared),
                reader.clone(),
                Arc::clone(&ledger),
                Arc::clone(&read_pacer),
            );
            let bucket = writer.bucket.clone();
            let max_range = config.max_range;
            tasks.push(tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::from_os_rng();
                loop {
                    pacer.wait().await;
                    if shared.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some(entry) = ledger.pick(&mut rng) else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    // One read in three asks for a range.
                    let range = if rng.random_ratio(1, 3) {
                        ByteRange::random(entry.size, max_range, &mut rng)
                    } else {
                        None
                    };
                    let started = Instant::now();
                    let outcome = read_and_check(&s3, &bucket, &entry, range).await;
                    let latency = started.elapsed();
                    let phase = shared.phase.load(Ordering::Relaxed);
                    let ok = matches!(outcome, ReadOutcome::Correct);
                    shared.log.record("read", latency, ok, phase);
                    let mut counts = shared.counts(phase);
                    match outcome {
                        ReadOutcome::Correct => counts.reads.record_ok(latency),
                        ReadOutcome::Failed(e) => counts.reads.record_failed(e),
                        ReadOutcome::Wrong(e) => counts.reads.record_wrong(e),
                    }
                }
            }));
        }
        Ok(Traffic { shared, tasks })
    }

    /// Operations that end from now on count in `phase`.
    pub fn set_phase(&self, phase: Phase) {
        self.shared.phase.store(phase as usize, Ordering::Relaxed);
    }

    /// Stops starting operations, waits for those in flight, and returns
    /// the counts of the baseline and the fault phase.
    pub async fn stop(self) -> (PhaseCounts, PhaseCounts) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        for mut task in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
            }
        }
        self.shared.log.flush();
        (
            self.shared.counts(Phase::Baseline as usize).clone(),
            self.shared.counts(Phase::Fault as usize).clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_spaces_slots_and_owes_no_burst() {
        let p = Pacer::new(10.0);
        let t0 = Instant::now();
        let a = p.next_slot(t0);
        let b = p.next_slot(t0);
        let c = p.next_slot(t0);
        assert_eq!(b - a, Duration::from_millis(100));
        assert_eq!(c - b, Duration::from_millis(100));
        // Long after: the next slot is now, not a backlog in the past.
        let late = t0 + Duration::from_secs(10);
        assert_eq!(p.next_slot(late), late);
        let unpaced = Pacer::new(0.0);
        assert_eq!(unpaced.next_slot(t0), t0);
        assert_eq!(unpaced.next_slot(t0), t0);
    }

    #[test]
    fn counts_keep_a_few_errors() {
        let mut c = OpCounts::default();
        c.record_ok(Duration::from_millis(3));
        for i in 0..10 {
            c.record_failed(format!("e{i}"));
        }
        c.record_wrong("w".into());
        assert_eq!(c.attempted, 12);
        assert_eq!(c.failed, 10);
        assert_eq!(c.wrong_bodies, 1);
        assert_eq!(c.latencies.len(), 1);
        assert_eq!(c.sample_errors.len(), SAMPLE_ERRORS);
    }
}
