//! The striped reader: serves a byte range of an object by fetching only the
//! data shards that cover it. When a data shard cannot be had in time (its
//! node is known down, fails, is slower than its hedge deadline, or returns
//! bytes that do not match their hash), the reader fetches other shards of
//! the stripe, decodes from the first `data` that arrive, and goes on.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use metadata::model::{Manifest, ObjectData, Stripe};
use storage_node::client::ShardError;
use tokio::sync::mpsc;

use crate::error::GatewayError;
use crate::layout::{StripeRead, plan_read};
use crate::object_io::ObjectIo;
use crate::response_body::ChannelBody;

impl ObjectIo {
    /// Streams `range` of an object. The first stripe is read before this
    /// returns, so an unreadable object fails with an S3 error instead of a
    /// response cut short after its headers.
    pub async fn read_object(
        self: &Arc<Self>,
        data: ObjectData,
        range: Range<u64>,
    ) -> Result<ChannelBody, GatewayError> {
        match data {
            ObjectData::Inline(bytes) => {
                let lo = usize::try_from(range.start)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let hi = usize::try_from(range.end)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                Ok(ChannelBody::once(bytes.slice(lo..hi)))
            }
            ObjectData::Striped(manifest) => self.read_striped(Arc::new(manifest), range).await,
        }
    }

    async fn read_striped(
        self: &Arc<Self>,
        manifest: Arc<Manifest>,
        range: Range<u64>,
    ) -> Result<ChannelBody, GatewayError> {
        let plan = plan_read(&manifest, range);
        // A stripe with fewer than `data` shards on nodes known to be up
        // cannot be read: say so now, with an S3 error, rather than after
        // the headers with a body cut short.
        if let Err(e) = self.check_reachable(&manifest, &plan) {
            // The list may lag a node's return: look again before refusing.
            self.topology.refresh_if_stale().await;
            self.check_reachable(&manifest, &plan).map_err(|_| e)?;
        }
        let read_ahead = self.config.read_ahead_stripes.max(1);
        let io = Arc::clone(self);
        let mut stripes = futures::stream::iter(plan)
            .map(move |read| {
                let io = Arc::clone(&io);
                let manifest = Arc::clone(&manifest);
                async move { io.read_stripe(&manifest, &read).await }
            })
            .buffered(read_ahead);

        let first = match stripes.next().await {
            Some(Ok(pieces)) => pieces,
            Some(Err(err)) => return Err(err),
            None => return Ok(ChannelBody::empty()),
        };
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
        Ok(body)
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
    ) -> Result<Vec<Bytes>, GatewayError> {
        let stripe = manifest
            .stripes
            .get(read.stripe)
            .ok_or_else(|| GatewayError::Internal("read plan outside the manifest".into()))?;
        let data_shards = usize::from(manifest.code.data);
        let mut needed: Vec<usize> = read.slices.iter().map(|s| s.shard).collect();
        needed.dedup();

        let mut have = self
            .gather(stripe, read.stripe, &needed, data_shards)
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
    ) -> Result<BTreeMap<usize, Bytes>, GatewayError> {
        let total = stripe.shards.len();
        let readable = |i: &usize| self.shard_expected_readable(stripe, *i);
        // Asked in this order: needed shards, then the stripe's other shards
        // on nodes expected to answer, then the rest (our view may be stale).
        let mut queue: VecDeque<usize> = needed.iter().copied().filter(readable).collect();
        queue.extend((0..total).filter(|i| !needed.contains(i) && readable(i)));
        queue.extend((0..total).filter(|i| !readable(i)));

        let mut have: BTreeMap<usize, Bytes> = BTreeMap::new();
        let mut in_flight = FuturesUnordered::new();
        // In-flight shards still counted on, with their hedge deadlines.
        let mut counted: BTreeMap<usize, Instant> = BTreeMap::new();
        // A needed shard failed or is late: only decoding can finish now.
        let mut decoding = needed.iter().any(|i| !readable(i));
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
                    (i, started, self.fetch_shard(stripe, i).await)
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
                    counted.remove(&i);
                    let node = &stripe.shards[i].node;
                    match result {
                        Ok(bytes) => {
                            self.topology.record_latency(node, started.elapsed());
                            have.insert(i, bytes);
                        }
                        Err(err) => {
                            decoding |= needed.contains(&i);
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
                        self.topology.report_slow(node);
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
            if let Some(bytes) = shard {
                have.entry(i).or_insert_with(|| Bytes::from(bytes));
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
