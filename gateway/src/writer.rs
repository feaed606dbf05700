//! The striped writer: turns an object's byte stream into erasure-coded
//! stripes on storage nodes without ever holding more than a few stripes.
//!
//! The body is cut into stripes of `data * shard_size` bytes. Each full stripe
//! is encoded, its shards hashed, placed by rendezvous hashing and written in
//! parallel by a task of its own, while the next stripe is being received; MD5
//! for the ETag runs beside them (see `md5_pipe`). A shard whose node fails is
//! written to another node that holds nothing of the stripe. Nothing is
//! committed here: the caller commits the returned data to metadata only once
//! every shard is durable, so a failed or cut-short upload is never visible.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures::stream::FuturesOrdered;
use futures::{Stream, StreamExt};
use metadata::ids::{NodeId, ShardHash, VersionId};
use metadata::model::{Manifest, ObjectData, ShardRef, Stripe};
use metadata::placement::{PlacementError, place_stripe, place_stripe_spread, stripe_key};
use storage_node::client::ShardError;
use tokio::task::JoinHandle;

use crate::digest_pipe::{BodyDigests, DigestPipe};
use crate::error::GatewayError;
use crate::limits::UploadLength;
use crate::object_io::ObjectIo;

/// How many nodes a failed shard write may move through before giving up.
const SHARD_WRITE_ATTEMPTS: usize = 3;

/// A stored (not yet committed) object body.
#[derive(Debug)]
pub struct Written {
    pub data: ObjectData,
    pub size: u64,
    pub md5: [u8; 16],
    /// The additional checksums asked for, computed over the body.
    pub checksums: Option<s3s::dto::Checksum>,
    /// When the first shard write could have begun (this clock).
    pub started_unix_ms: i64,
}

/// How far this machine's clock may be ahead of the metadata service's:
/// the commit's "shards written since" is moved back by this much, so a
/// shard collected just before the write began, by metadata's clock, still
/// refuses the commit. Refusing a few more commits than needed is harmless
/// (the client retries); accepting one too many would lose data.
const CLOCK_SKEW_ALLOWANCE_MS: i64 = 2_000;

impl Written {
    /// The commit condition's `shards_written_since_unix_ms`.
    pub fn shards_written_since(&self) -> i64 {
        self.started_unix_ms - CLOCK_SKEW_ALLOWANCE_MS
    }
}

type StripeTask = JoinHandle<Result<Stripe, GatewayError>>;

/// Stripes of one upload: finished ones in order, then those still running
/// (their tasks progress on their own; this only collects them in order).
#[derive(Default)]
struct Pipeline {
    done: Vec<Stripe>,
    running: FuturesOrdered<StripeTask>,
    launched: usize,
}

impl Pipeline {
    /// Collects the oldest running stripe.
    async fn collect_one(&mut self) -> Option<Result<(), GatewayError>> {
        let joined = self.running.next().await?;
        Some(match joined {
            Ok(Ok(stripe)) => {
                self.done.push(stripe);
                Ok(())
            }
            Ok(Err(err)) => Err(err),
            Err(e) => Err(GatewayError::Internal(format!("stripe task: {e}"))),
        })
    }

    /// Collects every running stripe; returns the first failure, if any.
    async fn collect_all(&mut self) -> Result<(), GatewayError> {
        let mut failure = None;
        while let Some(r) = self.collect_one().await {
            if let Err(e) = r {
                failure.get_or_insert(e);
            }
        }
        failure.map_or(Ok(()), Err)
    }
}

impl ObjectIo {
    /// Stores `body` as the data of an object version or part. A body that
    /// ends short of its declared `length`, runs past it or past the limit
    /// is refused (and what was written of it is deleted). `allow_inline`
    /// lets a small body live in metadata; multipart parts are always
    /// striped so they can be joined.
    pub async fn write_object<S>(
        self: &Arc<Self>,
        body: S,
        length: UploadLength,
        allow_inline: bool,
        checksums: Option<s3s::checksum::ChecksumHasher>,
    ) -> Result<Written, GatewayError>
    where
        S: Stream<Item = Result<Bytes, s3s::StdError>> + Send,
    {
        let started_unix_ms = metadata::model::now_unix_ms();
        let mut pipeline = Pipeline::default();
        let result = self
            .write_stripes(body, length, allow_inline, checksums, &mut pipeline)
            .await;
        // Whatever happened, wait for in-flight stripes: nothing may be left
        // writing shards after this returns.
        let collected = pipeline.collect_all().await;
        match (result, collected) {
            (Ok((inline, size, digests)), Ok(())) => {
                let data = match inline {
                    Some(bytes) => ObjectData::Inline(bytes),
                    None => ObjectData::Striped(Manifest {
                        code: self.codec.code(),
                        stripes: pipeline.done,
                    }),
                };
                Ok(Written {
                    data,
                    size,
                    md5: digests.md5,
                    checksums: digests.checksums,
                    started_unix_ms,
                })
            }
            (Err(err), _) | (Ok(_), Err(err)) => {
                self.discard(&pipeline.done);
                Err(err)
            }
        }
    }

    /// Reads the body and launches a task per stripe. Returns the inline body
    /// (for small objects), the size and the MD5.
    async fn write_stripes<S>(
        self: &Arc<Self>,
        body: S,
        mut length: UploadLength,
        allow_inline: bool,
        checksums: Option<s3s::checksum::ChecksumHasher>,
        pipeline: &mut Pipeline,
    ) -> Result<(Option<Bytes>, u64, BodyDigests), GatewayError>
    where
        S: Stream<Item = Result<Bytes, s3s::StdError>> + Send,
    {
        let stripe_bytes = self.stripe_bytes();
        let mut body = std::pin::pin!(body);
        let mut digests = DigestPipe::new(checksums);
        let mut buf = BytesMut::new();
        let expected_len = length.declared();
        let in_flight = self.config.stripes_in_flight.max(1);

        while let Some(chunk) = body.next().await {
            let mut chunk = chunk.map_err(GatewayError::Body)?;
            length.take(chunk.len())?;
            digests
                .update(chunk.clone())
                .await
                .map_err(|e| GatewayError::Internal(e.to_string()))?;
            while chunk.has_remaining() {
                if buf.capacity() == 0 {
                    // Size the first buffer to the body when it is known, so a
                    // small object does not allocate a whole stripe.
                    let want = expected_len.map_or(stripe_bytes, |e| {
                        usize::try_from(e).unwrap_or(stripe_bytes).min(stripe_bytes)
                    });
                    buf.reserve(want.max(chunk.len().min(stripe_bytes)));
                }
                let take = (stripe_bytes - buf.len()).min(chunk.len());
                buf.extend_from_slice(&chunk[..take]);
                chunk.advance(take);
                if buf.len() == stripe_bytes {
                    let stripe = buf.split().freeze();
                    buf = BytesMut::new();
                    self.launch_stripe(stripe, pipeline);
                    while pipeline.running.len() >= in_flight {
                        if let Some(Err(err)) = pipeline.collect_one().await {
                            return Err(err);
                        }
                    }
                }
            }
        }

        let total = length.finish()?;
        let digests = digests
            .finish()
            .await
            .map_err(|e| GatewayError::Internal(e.to_string()))?;

        if allow_inline && pipeline.launched == 0 && buf.len() <= self.config.inline_threshold {
            return Ok((Some(buf.freeze()), total, digests));
        }
        if !buf.is_empty() {
            let stripe = buf.freeze();
            self.launch_stripe(stripe, pipeline);
        }
        Ok((None, total, digests))
    }

    fn launch_stripe(self: &Arc<Self>, data: Bytes, pipeline: &mut Pipeline) {
        let io = Arc::clone(self);
        let index = pipeline.launched;
        pipeline.launched += 1;
        pipeline.running.push_back(tokio::spawn(
            async move { io.write_stripe(index, data).await },
        ));
    }

    /// Encodes one stripe and writes its shards to distinct nodes in parallel.
    #[tracing::instrument(skip_all, fields(stripe = index, bytes = data.len()))]
    async fn write_stripe(
        self: &Arc<Self>,
        index: usize,
        data: Bytes,
    ) -> Result<Stripe, GatewayError> {
        let data_len = data.len();
        let shard_len = self.codec.shard_len_for(data_len);
        let codec = self.codec.clone();
        let (shards, hashes) = tokio::task::spawn_blocking(move || {
            let shards = codec.encode(&data, shard_len)?;
            let hashes: Vec<ShardHash> = shards.iter().map(|s| ShardHash::of(s)).collect();
            Ok::<_, GatewayError>((shards, hashes))
        })
        .await
        .map_err(|e| GatewayError::Internal(format!("encode task: {e}")))??;

        // Keyed by the shards' hashes, which the manifest records, so the
        // rebalancer can tell later where this stripe belongs.
        let key = stripe_key(&hashes);
        let data_shards = usize::from(self.codec.code().data);
        let targets = place_stripe_spread(
            &key,
            &self.topology.writable_nodes(),
            shards.len(),
            data_shards,
        )?;
        let placed = Arc::new(Mutex::new(targets));
        let writes = shards
            .into_iter()
            .zip(hashes.iter().copied())
            .enumerate()
            .map(|(i, (bytes, hash))| {
                let placed = Arc::clone(&placed);
                async move {
                    self.write_shard(&key, index, i, hash, bytes, &placed)
                        .await
                        .map(|node| ShardRef { hash, node })
                }
            });
        let results = futures::future::join_all(writes).await;
        let mut refs = Vec::with_capacity(results.len());
        let mut failure = None;
        for r in results {
            match r {
                Ok(shard) => refs.push(shard),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        // Failovers may have doubled shards up further: a stripe whose loss
        // of one node would make it unreadable is not acknowledged.
        let distinct: std::collections::HashSet<&NodeId> = refs.iter().map(|r| &r.node).collect();
        if failure.is_none() && distinct.len() <= data_shards && refs.len() > data_shards {
            failure = Some(GatewayError::Placement(PlacementError::NotEnoughNodes {
                needed: data_shards + 1,
                available: distinct.len(),
            }));
        }
        if let Some(err) = failure {
            self.discard(&[Stripe {
                data_len: data_len as u64,
                shard_len: 0,
                shards: refs,
            }]);
            return Err(err);
        }
        Ok(Stripe {
            data_len: data_len as u64,
            shard_len: u32::try_from(shard_len)
                .map_err(|_| GatewayError::Internal("shard too large".into()))?,
            shards: refs,
        })
    }

    /// Writes shard `i` to its placed node, moving it to another node (one
    /// that holds nothing of this stripe) if the node fails.
    async fn write_shard(
        &self,
        key: &[u8],
        stripe: usize,
        i: usize,
        hash: ShardHash,
        bytes: Bytes,
        placed: &Mutex<Vec<NodeId>>,
    ) -> Result<NodeId, GatewayError> {
        let mut failed: Vec<NodeId> = Vec::new();
        let mut last_err = ShardError::Unavailable("no attempt".into());
        for _ in 0..SHARD_WRITE_ATTEMPTS {
            let node = {
                let guard = placed
                    .lock()
                    .map_err(|_| GatewayError::Internal("placement lock".into()))?;
                guard[i].clone()
            };
            let Some(addr) = self.topology.addr(&node) else {
                failed.push(node.clone());
                self.replace_target(key, i, &failed, placed)?;
                continue;
            };
            let deadline = shard_write_deadline(bytes.len());
            let put = self.storage.put_shard(&addr, &hash, bytes.clone());
            let result = match tokio::time::timeout(deadline, put).await {
                Ok(result) => result,
                Err(_) => Err(ShardError::Unavailable(format!(
                    "no answer within {deadline:?}"
                ))),
            };
            match result {
                Ok(()) => return Ok(node),
                // A full node is placed around like a failed one: another
                // node may well have room.
                Err(err) if err.is_retryable() || err == ShardError::Full => {
                    tracing::warn!(node = %node, shard = i, error = %err, "shard write failed; placing it elsewhere");
                    self.topology.report_failure(&node);
                    failed.push(node);
                    last_err = err;
                    self.replace_target(key, i, &failed, placed)?;
                }
                Err(err) => {
                    return Err(GatewayError::ShardWrite {
                        stripe,
                        shard: i,
                        source: err,
                    });
                }
            }
        }
        Err(GatewayError::ShardWrite {
            stripe,
            shard: i,
            source: last_err,
        })
    }

    fn replace_target(
        &self,
        key: &[u8],
        i: usize,
        failed: &[NodeId],
        placed: &Mutex<Vec<NodeId>>,
    ) -> Result<(), GatewayError> {
        let mut guard = placed
            .lock()
            .map_err(|_| GatewayError::Internal("placement lock".into()))?;
        let others: Vec<NodeId> = guard
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, n)| n.clone())
            .collect();
        let mut exclude = failed.to_vec();
        exclude.push(guard[i].clone());
        let writable = self.topology.writable_nodes();
        let replacement = match place_stripe(key, &writable, 1, &others, &exclude) {
            Ok(nodes) => nodes.into_iter().next(),
            // Every other node already holds a shard of this stripe (a
            // write with few nodes up): double up on the one holding the
            // fewest. The stripe is checked for enough distinct nodes once
            // every shard is written.
            Err(PlacementError::NotEnoughNodes { .. }) => writable
                .iter()
                .map(|n| &n.heartbeat.id)
                .filter(|id| !exclude.contains(id))
                .min_by_key(|id| others.iter().filter(|o| o == id).count())
                .cloned(),
        };
        match replacement {
            Some(node) => {
                guard[i] = node;
                Ok(())
            }
            None => Err(GatewayError::Placement(PlacementError::NotEnoughNodes {
                needed: 1,
                available: 0,
            })),
        }
    }

    /// Hands the shards of stripes that will never be committed to the
    /// garbage collector. They must not be deleted here: shards are named
    /// by their content, so a refused upload of bytes another object
    /// already holds wrote (or found) the very files that object's manifest
    /// names. The collector counts references and deletes a file only when
    /// nothing names it. If metadata cannot be told, the shards stay on
    /// disk (a leak, never a loss).
    pub fn discard(self: &Arc<Self>, stripes: &[Stripe]) {
        let shards: usize = stripes.iter().map(|s| s.shards.len()).sum();
        if shards == 0 {
            return;
        }
        metrics::counter!("gateway_uncommitted_shards_total").increment(shards as u64);
        let data = ObjectData::Striped(Manifest {
            code: self.codec.code(),
            stripes: stripes.to_vec(),
        });
        let io = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(err) = io.meta.retire_data(VersionId::new(), &data).await {
                tracing::warn!(error = %err, shards, "could not hand an uncommitted upload's shards to the collector; they stay on disk");
            }
        });
    }
}

/// How long one shard write may take before the shard is placed on another
/// node: a node that is up but frozen (or a disk that stalls) must cost an
/// upload seconds, not the 30 s request timeout. Generous next to a healthy
/// write (milliseconds) so that a busy node with slow fsyncs keeps its
/// shards and is not suspected: a suspected node takes no new shards, and
/// too many suspected at once would refuse writes. 10 s plus the transfer
/// at 10 MiB/s.
fn shard_write_deadline(len: usize) -> Duration {
    Duration::from_secs(10) + Duration::from_secs_f64(len as f64 / (10.0 * 1024.0 * 1024.0))
}
