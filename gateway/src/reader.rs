//! The striped reader: serves a byte range of an object by fetching only the
//! data shards that cover it. When a data shard cannot be had in time (its
//! node is known down, fails, is slower than its hedge deadline, or returns
//! bytes that do not match their hash), the reader fetches other shards of
//! the stripe, decodes from the first `data` that arrive, and goes on.
//!
//! Data shards go through the edge's shard cache: a cached shard is never
//! fetched, concurrent misses on one shard make one fetch, and data shards
//! rebuilt from parity are kept too, so a dead node costs each stripe one
//! decode, not one per reader.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use metadata::ids::ShardHash;
use metadata::model::{Manifest, Stripe};
use storage_node::client::ShardError;
use tokio::sync::mpsc;

use crate::cache_status::{CacheStatus, CacheTally};
use crate::error::GatewayError;
use crate::layout::{StripeRead, plan_read};
use crate::manifest_cache::ObjectBody;
use crate::object_io::ObjectIo;
use crate::response_body::ChannelBody;

/// Reads of at most this many stripes, all in memory, are answered without
/// a producer task (a 1 MiB range spans one or two).
const WHOLE_HIT_STRIPES: usize = 4;

/// A response body, and what serving it took.
pub struct ObjectRead {
    pub body: ChannelBody,
    /// What the caches did for the response (decided with its first stripe,
    /// as it goes out with the headers).
    pub cache: CacheStatus,
    /// A shard was not where the manifest said (its node failed or did not
    /// have it): a kept manifest's placement should be refreshed.
    pub misplaced: bool,
}

/// Shared by the tasks that read the stripes of one response.
#[derive(Default)]
struct ReadTally {
    cache: CacheTally,
    misplaced: AtomicBool,
}

impl ObjectIo {
    /// Streams `range` of an object. The first stripe is read before this
    /// returns, so an unreadable object fails with an S3 error instead of a
    /// response cut short after its headers.
    pub async fn read_object(
        self: &Arc<Self>,
        body: ObjectBody,
        range: Range<u64>,
    ) -> Result<ObjectRead, GatewayError> {
        match body {
            ObjectBody::Inline(bytes) => {
                let lo = usize::try_from(range.start)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let hi = usize::try_from(range.end)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                Ok(ObjectRead {
                    body: ChannelBody::once(bytes.slice(lo..hi)),
                    cache: CacheStatus::Hit,
                    misplaced: false,
                })
            }
            ObjectBody::Striped(manifest) => self.read_striped(manifest, range).await,
        }
    }

    async fn read_striped(
        self: &Arc<Self>,
        manifest: Arc<Manifest>,
        range: Range<u64>,
    ) -> Result<ObjectRead, GatewayError> {
        let plan = plan_read(&manifest, range);
        // A stripe with fewer than `data` shards on nodes known to be up
        // cannot be read: say so now, with an S3 error, rather than after
        // the headers with a body cut short.
        if let Err(e) = self.check_reachable(&manifest, &plan) {
            // The list may lag a node's return: look again before refusing.
            self.topology.refresh_if_stale().await;
            self.check_reachable(&manifest, &plan).map_err(|_| e)?;
        }
        let tally = Arc::new(ReadTally::default());
        // Shards of later stripes not in memory now will be fetched.
        let later_miss = plan
            .iter()
            .skip(1)
            .any(|read| !self.cached_stripe(&manifest, read));
        // A short read wholly in memory is gathered at once and sent as it
        // is: nothing to fetch ahead, so no task and no channel.
        if !later_miss
            && plan.len() <= WHOLE_HIT_STRIPES
            && plan
                .first()
                .is_none_or(|read| self.cached_stripe(&manifest, read))
        {
            let mut pieces = Vec::new();
            for read in &plan {
                pieces.extend(self.read_stripe(&manifest, read, &tally).await?);
            }
            return Ok(ObjectRead {
                body: ChannelBody::pieces(pieces),
                cache: tally.cache.status(),
                misplaced: tally.misplaced.load(Ordering::Relaxed),
            });
        }
        let read_ahead = self.config.read_ahead_stripes.max(1);
        let io = Arc::clone(self);
        let shared_tally = Arc::clone(&tally);
        let mut stripes = futures::stream::iter(plan)
            .map(move |read| {
                let io = Arc::clone(&io);
                let manifest = Arc::clone(&manifest);
                let tally = Arc::clone(&shared_tally);
                async move { io.read_stripe(&manifest, &read, &tally).await }
            })
            .buffered(read_ahead);

        let first = match stripes.next().await {
            Some(Ok(pieces)) => pieces,
            Some(Err(err)) => return Err(err),
            None => {
                return Ok(ObjectRead {
                    body: ChannelBody::empty(),
                    cache: CacheStatus::Hit,
                    misplaced: false,
                });
            }
        };
        let mut cache = tally.cache.status();
        if later_miss {
            cache = cache.max(CacheStatus::Miss);
        }
        let misplaced = tally.misplaced.load(Ordering::Relaxed);
        let (tx, body) = ChannelBody::channel(read_ahead * 4);
        tokio::spawn(async move {
            if !send_all(&tx, first).await {
                return;
            }
            while let Some(next) = stripes.next().await {
                match next {
                    Ok(pieces) => {
                        if !send_all(&tx, pieces).await {
                            return;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "read failed after the response started; aborting it");
                        let _ = tx.send(Err(std::io::Error::other(err.to_string()))).await;
                        return;
                    }
                }
            }
        });
        Ok(ObjectRead {
            body,
            cache,
            misplaced,
        })
    }

    /// Whether every shard `read` needs is in memory now.
    fn cached_stripe(&self, manifest: &Manifest, read: &StripeRead) -> bool {
        manifest.stripes.get(read.stripe).is_some_and(|stripe| {
            read.slices.iter().all(|slice| {
                stripe
                    .shards
                    .get(slice.shard)
                    .is_some_and(|s| self.shards.contains(&s.hash))
            })
        })
    }

    /// Reads the stripes of `range` into the shard cache (read-ahead for a
    /// client that reads an object in consecutive ranges). Best effort: a
    /// failure here is a later request's miss, not an error.
    pub async fn prefetch(self: &Arc<Self>, manifest: &Manifest, range: Range<u64>) {
        let tally = ReadTally::default();
        for read in plan_read(manifest, range) {
            if self.cached_stripe(manifest, &read) {
                continue;
            }
            match self.read_stripe(manifest, &read, &tally).await {
                Ok(_) => {
                    metrics::counter!("cache_prefetched_stripes_total").increment(1);
                }
                Err(err) => {
                    tracing::debug!(error = %err, "prefetch failed");
                    return;
                }
            }
        }
    }

    /// `Unreadable` for the first stripe of `plan` with fewer than `data`
    /// shards on nodes the metadata service reports up.
    fn check_reachable(
        &self,
        manifest: &Manifest,
        plan: &[StripeRead],
    ) -> Result<(), GatewayError> {
        let data_shards = usize::from(manifest.code.data);
        for read in plan {
            if self.cached_stripe(manifest, read) {
                continue;
            }
            if let Some(stripe) = manifest.stripes.get(read.stripe) {
                let reachable = self
                    .topology
                    .count_up(stripe.shards.iter().map(|s| &s.node));
                if reachable < data_shards {
                    return Err(GatewayError::Unreadable {
                        stripe: read.stripe,
                        available: reachable,
                        needed: data_shards,
                    });
                }
            }
        }
        Ok(())
    }

    /// The pieces of one stripe that a read needs, in order.
    #[tracing::instrument(skip_all, fields(stripe = read.stripe))]
    async fn read_stripe(
        &self,
        manifest: &Manifest,
        read: &StripeRead,
        tally: &ReadTally,
    ) -> Result<Vec<Bytes>, GatewayError> {
        let stripe = manifest
            .stripes
            .get(read.stripe)
            .ok_or_else(|| GatewayError::Internal("read plan outside the manifest".into()))?;
        let data_shards = usize::from(manifest.code.data);
        let mut needed: Vec<usize> = read.slices.iter().map(|s| s.shard).collect();
        needed.dedup();

        let mut have = self
            .gather(stripe, read.stripe, &needed, data_shards, tally)
            .await?;
        if needed.iter().any(|i| !have.contains_key(i)) {
            self.decode(stripe, data_shards, &mut have).await?;
        }

        let mut pieces = Vec::with_capacity(read.slices.len());
        for slice in &read.slices {
            let shard = have
                .get(&slice.shard)
                .ok_or_else(|| GatewayError::Internal("reconstructed shard missing".into()))?;
            pieces.push(shard.slice(slice.within.clone()));
        }
        Ok(pieces)
    }

    /// Fetches shards of a stripe until it has the `needed` data shards, or
    /// any `data_shards` shards to decode them from. It asks first for the
    /// needed shards on nodes expected to answer. A shard that fails, or
    /// whose node is slower than its hedge deadline (a few times that node's
    /// recent latency, under half a second), no longer counts as coming:
    /// the read asks one more shard for it and decodes from the first
    /// `data_shards` that arrive. A late fetch keeps running and is used if
    /// it wins. So a killed node costs a read one extra fetch, and a frozen
    /// one a fraction of a second, never a timeout.
    async fn gather(
        &self,
        stripe: &Stripe,
        index: usize,
        needed: &[usize],
        data_shards: usize,
        tally: &ReadTally,
    ) -> Result<BTreeMap<usize, Bytes>, GatewayError> {
        let total = stripe.shards.len();
        // Needed shards in memory need no fetch. (Other data shards in
        // memory are found when a decode asks for them.)
        let mut have: BTreeMap<usize, Bytes> = BTreeMap::new();
        for &i in needed {
            if let Some(bytes) = self.shards.get(&stripe.shards[i].hash).await {
                have.insert(i, bytes);
            }
        }
        if needed.iter().all(|i| have.contains_key(i)) {
            return Ok(have);
        }
        let readable = |i: &usize| self.shard_expected_readable(stripe, *i);
        let wanted = |i: &usize| !have.contains_key(i);
        // Asked in this order: needed shards, then the stripe's other shards
        // on nodes expected to answer, then the rest (our view may be stale).
        let mut queue: VecDeque<usize> = needed
            .iter()
            .copied()
            .filter(|i| wanted(i) && readable(i))
            .collect();
        queue.extend((0..total).filter(|i| !needed.contains(i) && wanted(i) && readable(i)));
        queue.extend((0..total).filter(|i| wanted(i) && !readable(i)));

        let mut in_flight = FuturesUnordered::new();
        // In-flight shards still counted on, with their hedge deadlines.
        let mut counted: BTreeMap<usize, Instant> = BTreeMap::new();
        // A needed shard failed or is late: only decoding can finish now.
        let mut decoding = needed.iter().any(|i| wanted(i) && !readable(i));
        loop {
            let direct_done = needed.iter().all(|i| have.contains_key(i));
            if direct_done || have.len() >= data_shards {
                break;
            }
            // Keep enough fetches counted on to finish.
            let want = if decoding {
                data_shards - have.len()
            } else {
                needed.iter().filter(|i| !have.contains_key(i)).count()
            };
            while counted.len() < want {
                let Some(i) = queue.pop_front() else { break };
                let node = &stripe.shards[i].node;
                counted.insert(i, Instant::now() + self.topology.hedge_after(node));
                in_flight.push(async move {
                    let started = Instant::now();
                    (
                        i,
                        started,
                        self.fetch_through_cache(stripe, i, data_shards).await,
                    )
                });
            }
            if in_flight.is_empty() {
                return Err(GatewayError::Unreadable {
                    stripe: index,
                    available: have.len(),
                    needed: data_shards,
                });
            }
            let next_deadline = counted.values().min().copied();
            tokio::select! {
                Some((i, started, result)) = in_flight.next() => {
                    // Still counted on means it beat its hedge deadline.
                    let on_time = counted.remove(&i).is_some();
                    let node = &stripe.shards[i].node;
                    match result {
                        Ok((bytes, status)) => {
                            if status == CacheStatus::Miss {
                                self.topology.record_latency(node, started.elapsed(), on_time);
                            }
                            tally.cache.note(status);
                            have.insert(i, bytes);
                        }
                        Err(err) => {
                            decoding |= needed.contains(&i);
                            if err == ShardError::NotFound {
                                tally.misplaced.store(true, Ordering::Relaxed);
                            }
                            self.note_failure(stripe, i, &err);
                        }
                    }
                }
                () = sleep_until_or_forever(next_deadline) => {
                    let now = Instant::now();
                    let late: Vec<usize> = counted
                        .iter()
                        .filter(|(_, deadline)| **deadline <= now)
                        .map(|(i, _)| *i)
                        .collect();
                    for i in late {
                        counted.remove(&i);
                        decoding |= needed.contains(&i);
                        let node = &stripe.shards[i].node;
                        metrics::counter!("gateway_hedged_shard_reads_total").increment(1);
                        tracing::info!(node = %node, "shard read is late; asking another node");
                        self.topology.report_late(node);
                    }
                }
            }
        }
        Ok(have)
    }

    /// Decodes the data shards from any `data_shards` shards in `have`.
    async fn decode(
        &self,
        stripe: &Stripe,
        data_shards: usize,
        have: &mut BTreeMap<usize, Bytes>,
    ) -> Result<(), GatewayError> {
        let total = stripe.shards.len();
        let mut shards: Vec<Option<Vec<u8>>> = (0..total)
            .map(|i| have.get(&i).map(|b| b.to_vec()))
            .collect();
        let codec = self.codec.clone();
        let shards = tokio::task::spawn_blocking(move || {
            codec.reconstruct_data(&mut shards).map(|()| shards)
        })
        .await
        .map_err(|e| GatewayError::Internal(format!("decode task: {e}")))??;
        for (i, shard) in shards.into_iter().enumerate().take(data_shards) {
            if let Some(bytes) = shard
                && !have.contains_key(&i)
            {
                let bytes = Bytes::from(bytes);
                // Kept only if it is the shard the manifest names: a decode
                // from a bad survivor must not outlive this read.
                let hash = stripe.shards[i].hash;
                if ShardHash::of(&bytes) == hash {
                    self.shards.insert(hash, bytes.clone()).await;
                }
                have.insert(i, bytes);
            }
        }
        metrics::counter!("gateway_degraded_stripe_reads_total").increment(1);
        Ok(())
    }

    fn shard_expected_readable(&self, stripe: &Stripe, i: usize) -> bool {
        stripe
            .shards
            .get(i)
            .is_some_and(|s| self.topology.is_available(&s.node))
    }

    /// A bad shard is counted and reported for repair; a node that failed
    /// is avoided for a while.
    fn note_failure(&self, stripe: &Stripe, i: usize, err: &ShardError) {
        let node = &stripe.shards[i].node;
        match err {
            ShardError::Corrupt | ShardError::NotFound => {
                metrics::counter!("gateway_bad_shards_total").increment(1);
                self.bad_shards.report(node, &stripe.shards[i].hash);
                tracing::warn!(shard = %stripe.shards[i].hash, node = %node, error = %err, "shard unusable; reading from parity");
            }
            _ => {
                self.topology.report_failure(node);
                tracing::warn!(node = %node, error = %err, "shard read failed; reading from parity");
            }
        }
    }

    /// A data shard through the cache (one fetch for concurrent readers);
    /// a parity shard straight from its node, as only a decode needs it.
    async fn fetch_through_cache(
        &self,
        stripe: &Stripe,
        i: usize,
        data_shards: usize,
    ) -> Result<(Bytes, CacheStatus), ShardError> {
        if i < data_shards {
            self.shards
                .get_or_fetch(&stripe.shards[i].hash, self.fetch_shard(stripe, i))
                .await
        } else {
            let bytes = self.fetch_shard(stripe, i).await?;
            metrics::counter!("cache_bytes_total", "source" => "storage")
                .increment(bytes.len() as u64);
            Ok((bytes, CacheStatus::Miss))
        }
    }

    async fn fetch_shard(&self, stripe: &Stripe, i: usize) -> Result<Bytes, ShardError> {
        let shard = &stripe.shards[i];
        let addr = self
            .topology
            .addr(&shard.node)
            .ok_or_else(|| ShardError::Unavailable(format!("unknown node {}", shard.node)))?;
        let bytes = self.storage.get_shard(&addr, &shard.hash).await?;
        if bytes.len() != stripe.shard_len as usize {
            return Err(ShardError::Corrupt);
        }
        Ok(bytes)
    }
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until_or_forever(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

async fn send_all(tx: &mpsc::Sender<Result<Bytes, std::io::Error>>, pieces: Vec<Bytes>) -> bool {
    for piece in pieces {
        if tx.send(Ok(piece)).await.is_err() {
            return false; // the client went away
        }
    }
    true
}
