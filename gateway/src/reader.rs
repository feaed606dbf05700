//! The striped reader: serves a byte range of an object by fetching only the
//! data shards that cover it. When a data shard cannot be had (its node is
//! known down, fails, or returns bytes that do not match their hash), the
//! reader fetches enough other shards of the stripe to make `data` of them,
//! reconstructs from parity within the same request, and goes on.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
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

        let mut have: BTreeMap<usize, Bytes> = BTreeMap::new();
        let mut tried: Vec<usize> = Vec::new();
        // Fast path: only the data shards the range covers, from nodes we
        // expect to answer.
        let direct: Vec<usize> = needed
            .iter()
            .copied()
            .filter(|&i| self.shard_expected_readable(stripe, i))
            .collect();
        self.fetch_into(stripe, &direct, &mut have, &mut tried)
            .await;

        if needed.iter().any(|i| !have.contains_key(i)) {
            self.reconstruct_stripe(stripe, read.stripe, data_shards, &mut have, &mut tried)
                .await?;
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

    /// Degraded path: gather any `data` shards of the stripe, then decode the
    /// data shards from them.
    async fn reconstruct_stripe(
        &self,
        stripe: &Stripe,
        index: usize,
        data_shards: usize,
        have: &mut BTreeMap<usize, Bytes>,
        tried: &mut Vec<usize>,
    ) -> Result<(), GatewayError> {
        let total = stripe.shards.len();
        // Shards on nodes we expect to answer first; the others last, in case
        // our view of the cluster is stale.
        let mut candidates: Vec<usize> = (0..total)
            .filter(|i| !tried.contains(i))
            .filter(|&i| self.shard_expected_readable(stripe, i))
            .collect();
        candidates.extend(
            (0..total)
                .filter(|i| !tried.contains(i))
                .filter(|&i| !self.shard_expected_readable(stripe, i)),
        );
        let mut candidates = candidates.into_iter();
        while have.len() < data_shards {
            let batch: Vec<usize> = candidates.by_ref().take(data_shards - have.len()).collect();
            if batch.is_empty() {
                return Err(GatewayError::Unreadable {
                    stripe: index,
                    available: have.len(),
                    needed: data_shards,
                });
            }
            self.fetch_into(stripe, &batch, have, tried).await;
        }

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

    /// Fetches the given shards in parallel; successes land in `have`.
    async fn fetch_into(
        &self,
        stripe: &Stripe,
        indices: &[usize],
        have: &mut BTreeMap<usize, Bytes>,
        tried: &mut Vec<usize>,
    ) {
        let fetches = indices
            .iter()
            .map(|&i| async move { (i, self.fetch_shard(stripe, i).await) });
        for (i, result) in futures::future::join_all(fetches).await {
            tried.push(i);
            match result {
                Ok(bytes) => {
                    have.insert(i, bytes);
                }
                Err(err) => {
                    let node = &stripe.shards[i].node;
                    match err {
                        ShardError::Corrupt | ShardError::NotFound => {
                            metrics::counter!("gateway_bad_shards_total").increment(1);
                            tracing::warn!(shard = %stripe.shards[i].hash, node = %node, error = %err, "shard unusable; reading from parity");
                        }
                        _ => {
                            self.topology.report_failure(node);
                            tracing::warn!(node = %node, error = %err, "shard read failed; reading from parity");
                        }
                    }
                }
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

async fn send_all(tx: &mpsc::Sender<Result<Bytes, std::io::Error>>, pieces: Vec<Bytes>) -> bool {
    for piece in pieces {
        if tx.send(Ok(piece)).await.is_err() {
            return false; // the client went away
        }
    }
    true
}
