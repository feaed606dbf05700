//! Concurrent uploads' MD5s, computed together in lanes.
//!
//! The S3 ETag of a PUT or a part is the MD5 of its body, and MD5 is the
//! largest single cost of an upload (one core hashes about 0.6 GB/s). One
//! body cannot go faster, but four bodies hashed side by side in vector
//! lanes (`md5_lanes`) cost about as much as one: 2.5 times the throughput
//! per core. An engine is a thread that owns the MD5 state of the streams
//! given to it and, whenever several of them have data waiting, advances
//! up to four of them in one pass; a stream alone is hashed one lane at a
//! time, as fast as plain MD5. With fewer than four ready while others are
//! still receiving, it waits up to `GATHER_WAIT` for company, but never for
//! a body that is complete (its request waits for the digest) or one whose
//! data backs up.
//!
//! Each stream feeds its engine through its own bounded channel (a slow
//! engine holds its writers back, and memory stays bounded by
//! `CHANNEL_CHUNKS` chunks per stream); the engine parks when no stream has
//! anything for it. A stream whose sender is dropped is finished: the
//! engine pads it, answers its digest if anyone still waits for it, and
//! forgets it. There is one engine per four cores, at least one. An
//! engine that panics (a bug) fails the bodies it held and starts again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::md5_lanes::{self, BLOCK, INITIAL};

/// Streams hashed in one pass.
const LANES: usize = 4;

/// Chunks a stream may have in flight to its engine.
const CHANNEL_CHUNKS: usize = 16;

/// Blocks one pass advances each lane by, at most: small enough that other
/// streams get their turn soon, large enough to amortise choosing lanes.
const BLOCKS_PER_PASS: usize = 256;

/// How long ready data may wait for other streams to fill the lanes. A
/// stream receiving at 10 MB/s brings a few blocks in this time; a request
/// never waits for it at its end, because a finished body goes at once.
const GATHER_WAIT: Duration = Duration::from_micros(500);

/// The engine died (a bug: it panicked), so the digest is lost.
#[derive(Debug, thiserror::Error)]
#[error("the MD5 engine stopped")]
pub struct EngineStopped;

/// One body's MD5, computed on an engine.
pub struct Md5Stream {
    tx: mpsc::Sender<Bytes>,
    digest: oneshot::Receiver<[u8; 16]>,
    engine: Arc<Shared>,
}

impl Md5Stream {
    /// A new stream on the least busy engine.
    pub fn start() -> Self {
        let engine = engines()
            .iter()
            .min_by_key(|e| e.streams.load(Ordering::Relaxed))
            .expect("at least one engine")
            .clone();
        Self::on(engine)
    }

    fn on(engine: Arc<Shared>) -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let (digest_tx, digest) = oneshot::channel();
        engine.streams.fetch_add(1, Ordering::Relaxed);
        engine
            .inbox
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Stream::new(rx, digest_tx));
        engine.thread.unpark();
        Md5Stream { tx, digest, engine }
    }

    /// Hashes `chunk` after everything sent before it.
    pub async fn update(&mut self, chunk: Bytes) -> Result<(), EngineStopped> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.tx.send(chunk).await.map_err(|_| EngineStopped)?;
        self.engine.thread.unpark();
        Ok(())
    }

    /// The MD5 of every chunk sent.
    pub async fn finish(self) -> Result<[u8; 16], EngineStopped> {
        let Md5Stream { tx, digest, engine } = self;
        drop(tx);
        engine.thread.unpark();
        digest.await.map_err(|_| EngineStopped)
    }
}

/// What a stream's writer and its engine share.
struct Shared {
    inbox: Mutex<Vec<Stream>>,
    /// Streams started on this engine and not yet finished.
    streams: AtomicUsize,
    thread: Thread,
    /// Makes the engine panic on its next pass, to test its restart.
    #[cfg(test)]
    panic_next: std::sync::atomic::AtomicBool,
}

fn engines() -> &'static [Arc<Shared>] {
    static ENGINES: OnceLock<Vec<Arc<Shared>>> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (0..cores.div_ceil(4)).map(spawn_engine).collect()
    })
}

fn spawn_engine(n: usize) -> Arc<Shared> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(format!("md5-engine-{n}"))
        .spawn(move || {
            let shared = Arc::new(Shared {
                inbox: Mutex::new(Vec::new()),
                streams: AtomicUsize::new(0),
                thread: std::thread::current(),
                #[cfg(test)]
                panic_next: std::sync::atomic::AtomicBool::new(false),
            });
            // The receiver waits right below, so this cannot fail.
            let _ = ready_tx.send(shared.clone());
            loop {
                // `run` returns only by panicking (a bug). The bodies it was
                // hashing lose their digests and their uploads fail; the
                // engine starts again for the others.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&shared)));
                tracing::error!("the MD5 engine stopped on a panic and starts again");
                let waiting = shared
                    .inbox
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .len();
                shared.streams.store(waiting, Ordering::Relaxed);
            }
        })
        .expect("spawning an MD5 engine thread");
    ready_rx.recv().expect("the MD5 engine thread started")
}

/// One body being hashed: whole blocks waiting in `queue`, the bytes of a
/// block not yet complete in `carry`.
struct Stream {
    rx: mpsc::Receiver<Bytes>,
    reply: Option<oneshot::Sender<[u8; 16]>>,
    state: [u32; 4],
    /// Whole blocks not hashed yet; every entry's length is a multiple of 64.
    queue: VecDeque<Bytes>,
    carry: [u8; BLOCK],
    carry_len: usize,
    total: u64,
    /// The sender is gone: once `queue` is empty, pad and answer.
    closed: bool,
}

impl Stream {
    fn new(rx: mpsc::Receiver<Bytes>, reply: oneshot::Sender<[u8; 16]>) -> Self {
        Stream {
            rx,
            reply: Some(reply),
            state: INITIAL,
            queue: VecDeque::new(),
            carry: [0; BLOCK],
            carry_len: 0,
            total: 0,
            closed: false,
        }
    }

    /// Takes what the writer has sent, up to a few chunks ahead of the
    /// hashing. A block that straddles two chunks is completed in `carry`
    /// and queued as a copy; the rest queues as whole blocks, uncopied.
    fn pull(&mut self) {
        while !self.closed && self.queue.len() < 2 {
            match self.rx.try_recv() {
                Ok(mut chunk) => {
                    self.total += chunk.len() as u64;
                    if self.carry_len > 0 {
                        let take = (BLOCK - self.carry_len).min(chunk.len());
                        self.carry[self.carry_len..self.carry_len + take]
                            .copy_from_slice(&chunk.split_to(take));
                        self.carry_len += take;
                        if self.carry_len < BLOCK {
                            continue;
                        }
                        // Queued behind the blocks before it: order matters.
                        self.queue.push_back(Bytes::copy_from_slice(&self.carry));
                        self.carry_len = 0;
                    }
                    let whole = chunk.len() / BLOCK * BLOCK;
                    let tail = chunk.split_off(whole);
                    self.carry[..tail.len()].copy_from_slice(&tail);
                    self.carry_len = tail.len();
                    if !chunk.is_empty() {
                        self.queue.push_back(chunk);
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => self.closed = true,
            }
        }
    }

    /// Marks `blocks` blocks of the front chunk hashed.
    fn consume(&mut self, blocks: usize) {
        if let Some(front) = self.queue.front_mut() {
            let _ = front.split_to(blocks * BLOCK);
            if front.is_empty() {
                self.queue.pop_front();
            }
        }
    }

    fn front_blocks(&self) -> usize {
        self.queue.front().map_or(0, |c| c.len() / BLOCK)
    }

    fn finished(&self) -> bool {
        self.closed && self.queue.is_empty()
    }
}

fn run(shared: &Shared) {
    let mut streams: Vec<Stream> = Vec::new();
    let mut turn = 0usize;
    let mut waiting_since: Option<Instant> = None;
    let mut chosen: Vec<usize> = Vec::with_capacity(LANES);
    loop {
        streams.extend(
            shared
                .inbox
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .drain(..),
        );
        for s in &mut streams {
            s.pull();
        }
        #[cfg(test)]
        if shared.panic_next.swap(false, Ordering::Relaxed) {
            panic!("asked to panic by a test");
        }
        streams.retain_mut(|s| {
            if !s.finished() {
                return true;
            }
            let digest = md5_lanes::finish(s.state, &s.carry[..s.carry_len], s.total);
            if let Some(reply) = s.reply.take() {
                // The writer may have given up on the body; nothing to do then.
                let _ = reply.send(digest);
            }
            shared.streams.fetch_sub(1, Ordering::Relaxed);
            false
        });
        // Up to LANES streams with whole blocks waiting, taking turns.
        let n = streams.len();
        chosen.clear();
        for k in 0..n {
            let at = (turn + k) % n;
            if streams[at].front_blocks() > 0 {
                chosen.push(at);
                if chosen.len() == LANES {
                    break;
                }
            }
        }
        turn = turn.wrapping_add(1);
        if chosen.is_empty() {
            // Nothing to hash: sleep until a writer sends or finishes. The
            // timeout only bounds the cost of a missed wake-up.
            waiting_since = None;
            std::thread::park_timeout(Duration::from_millis(50));
            continue;
        }
        // Fewer than four ready while others are still receiving: wait a
        // moment for company. Not when a body is complete (its request
        // waits for the digest), nor when a stream's backlog grows (the
        // engine is what holds it back); and once ready data has waited
        // its moment, it goes on without waiting again until the engine
        // runs out of work or fills all four lanes.
        if chosen.len() == LANES {
            waiting_since = None;
        } else if streams.len() > chosen.len()
            && !chosen
                .iter()
                .any(|&at| streams[at].closed || streams[at].queue.len() > 1)
        {
            let since = *waiting_since.get_or_insert_with(Instant::now);
            let waited = since.elapsed();
            if waited < GATHER_WAIT {
                std::thread::park_timeout(GATHER_WAIT - waited);
                continue;
            }
        }
        let blocks = chosen
            .iter()
            .map(|&at| streams[at].front_blocks())
            .min()
            .unwrap_or(0)
            .min(BLOCKS_PER_PASS);
        hash_pass(&mut streams, &chosen, blocks);
    }
}

/// Advances the chosen streams by `blocks` blocks each. Two or more go
/// through the four lanes together (an idle lane repeats lane 0's work and
/// is thrown away: four lanes cost less than two passes of one); a stream
/// alone takes the one-lane path, which is as fast as plain MD5.
fn hash_pass(streams: &mut [Stream], chosen: &[usize], blocks: usize) {
    if let [only] = chosen {
        let s = &mut streams[*only];
        let mut one = [s.state];
        if let Some(front) = s.queue.front() {
            md5_lanes::compress_lanes(&mut one, [&front[..]], blocks);
        }
        s.state = one[0];
        s.consume(blocks);
        return;
    }
    let lane = |l: usize| chosen.get(l).copied().unwrap_or(chosen[0]);
    let mut states: [[u32; 4]; LANES] = std::array::from_fn(|l| streams[lane(l)].state);
    {
        let data: [&[u8]; LANES] =
            std::array::from_fn(|l| streams[lane(l)].queue.front().map_or(&[][..], |c| &c[..]));
        md5_lanes::compress_lanes(&mut states, data, blocks);
    }
    for (l, &at) in chosen.iter().enumerate() {
        streams[at].state = states[l];
        streams[at].consume(blocks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};

    fn body(seed: u32, len: usize) -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
            .collect()
    }

    async fn hash_in_chunks(data: Vec<u8>, chunk: usize) -> [u8; 16] {
        let mut stream = Md5Stream::start();
        for c in data.chunks(chunk.max(1)) {
            stream.update(Bytes::copy_from_slice(c)).await.unwrap();
        }
        stream.finish().await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_streams_get_their_own_digests() {
        let mut tasks = Vec::new();
        for seed in 0..23u32 {
            // Lengths and chunk sizes that leave blocks straddling chunks.
            let len = (seed as usize * 37_123) % 600_000;
            let chunk = 1 + (seed as usize * 7_919) % 70_000;
            let data = body(seed, len);
            let expected: [u8; 16] = Md5::digest(&data).into();
            tasks.push(tokio::spawn(async move {
                assert_eq!(hash_in_chunks(data, chunk).await, expected, "seed {seed}");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }

    #[tokio::test]
    async fn empty_and_tiny_bodies() {
        for len in [0usize, 1, 55, 56, 63, 64, 65, 119, 120, 128] {
            let data = body(len as u32, len);
            let expected: [u8; 16] = Md5::digest(&data).into();
            assert_eq!(hash_in_chunks(data, 7).await, expected, "len {len}");
        }
    }

    #[tokio::test]
    async fn a_panicking_engine_fails_its_streams_and_starts_again() {
        let engine = spawn_engine(usize::MAX - 1);
        let mut doomed = Md5Stream::on(engine.clone());
        doomed.update(Bytes::from(body(2, 100_000))).await.unwrap();
        engine
            .panic_next
            .store(true, std::sync::atomic::Ordering::Relaxed);
        engine.thread.unpark();
        assert!(doomed.finish().await.is_err());

        let data = body(3, 300_000);
        let expected: [u8; 16] = Md5::digest(&data).into();
        let mut stream = Md5Stream::on(engine.clone());
        stream.update(Bytes::from(data)).await.unwrap();
        assert_eq!(stream.finish().await.unwrap(), expected);
    }

    #[tokio::test]
    async fn an_abandoned_stream_is_forgotten() {
        // An engine of its own, so that other tests' streams do not count.
        let engine = spawn_engine(usize::MAX);
        let mut stream = Md5Stream::on(engine.clone());
        stream.update(Bytes::from(body(1, 10_000))).await.unwrap();
        assert_eq!(engine.streams.load(Ordering::Relaxed), 1);
        drop(stream);
        for _ in 0..200 {
            if engine.streams.load(Ordering::Relaxed) == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the engine still holds the dropped stream");
    }
}
