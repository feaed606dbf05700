//! Every digest of a request body: the MD5 of the S3 ETag and the additional
//! checksums a client declared. MD5 is the single most expensive thing a PUT
//! does (about 0.6 GB/s per core, ten times slower than the codec). A small
//! body keeps its chunks and hashes them at the end, on the request's task;
//! once a body grows past a threshold its MD5 moves to an `md5_engine`,
//! which hashes concurrent bodies four at a time, and its checksums (if any)
//! to a blocking thread fed through a bounded channel: hashing then overlaps
//! with encoding and network writes instead of adding to them.

use bytes::Bytes;
use md5::{Digest, Md5};
use s3s::checksum::ChecksumHasher;
use s3s::dto::Checksum;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::md5_engine::Md5Stream;

/// Past this many bytes, hashing moves off the request's task.
const INLINE_LIMIT: usize = 256 * 1024;

/// The digests of a whole body.
pub struct BodyDigests {
    pub md5: [u8; 16],
    pub checksums: Option<Checksum>,
}

/// A hasher stopped before the body's end (a bug: it panicked).
#[derive(Debug, thiserror::Error)]
#[error("a body digest was lost: {0}")]
pub struct DigestLost(String);

pub struct DigestPipe {
    state: State,
}

enum State {
    Inline {
        /// The body so far, hashed for MD5 at the end if it stays small.
        chunks: Vec<Bytes>,
        seen: usize,
        /// Boxed: the hashers are large and move between states.
        checksums: Option<Box<ChecksumHasher>>,
    },
    Offloaded {
        md5: Md5Stream,
        checksums: Option<Threaded>,
    },
    Moving,
}

/// Checksums on a blocking thread.
struct Threaded {
    tx: mpsc::Sender<Bytes>,
    done: JoinHandle<Checksum>,
}

impl Threaded {
    fn start(mut hasher: Box<ChecksumHasher>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Bytes>(16);
        let done = tokio::task::spawn_blocking(move || {
            while let Some(chunk) = rx.blocking_recv() {
                hasher.update(&chunk);
            }
            hasher.finalize()
        });
        Threaded { tx, done }
    }
}

impl DigestPipe {
    pub fn new(checksums: Option<ChecksumHasher>) -> Self {
        DigestPipe {
            state: State::Inline {
                chunks: Vec::new(),
                seen: 0,
                checksums: checksums.map(Box::new),
            },
        }
    }

    pub async fn update(&mut self, chunk: Bytes) -> Result<(), DigestLost> {
        match &mut self.state {
            State::Inline {
                chunks,
                seen,
                checksums,
            } if *seen + chunk.len() <= INLINE_LIMIT => {
                if let Some(c) = checksums {
                    c.update(&chunk);
                }
                *seen += chunk.len();
                chunks.push(chunk);
                Ok(())
            }
            State::Inline { .. } => {
                let State::Inline {
                    chunks, checksums, ..
                } = std::mem::replace(&mut self.state, State::Moving)
                else {
                    return Ok(());
                };
                let mut md5 = Md5Stream::start();
                for c in chunks {
                    md5.update(c).await.map_err(lost)?;
                }
                let checksums = checksums.map(Threaded::start);
                self.state = State::Offloaded { md5, checksums };
                self.offloaded(chunk).await
            }
            State::Offloaded { .. } => self.offloaded(chunk).await,
            State::Moving => Ok(()),
        }
    }

    async fn offloaded(&mut self, chunk: Bytes) -> Result<(), DigestLost> {
        let State::Offloaded { md5, checksums } = &mut self.state else {
            return Ok(());
        };
        if let Some(t) = checksums {
            t.tx.send(chunk.clone()).await.map_err(lost)?;
        }
        md5.update(chunk).await.map_err(lost)
    }

    pub async fn finish(self) -> Result<BodyDigests, DigestLost> {
        match self.state {
            State::Inline {
                chunks, checksums, ..
            } => {
                let mut md5 = Md5::new();
                for c in &chunks {
                    md5.update(c);
                }
                Ok(BodyDigests {
                    md5: md5.finalize().into(),
                    checksums: checksums.map(|c| c.finalize()),
                })
            }
            State::Offloaded { md5, checksums } => {
                let checksums = match checksums {
                    Some(Threaded { tx, done }) => {
                        drop(tx);
                        Some(done.await.map_err(lost)?)
                    }
                    None => None,
                };
                Ok(BodyDigests {
                    md5: md5.finish().await.map_err(lost)?,
                    checksums,
                })
            }
            State::Moving => Err(DigestLost("the pipe was left between states".into())),
        }
    }
}

fn lost(e: impl std::fmt::Display) -> DigestLost {
    DigestLost(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_digests_inline_and_threaded() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let crc = || ChecksumHasher {
            crc32: Some(Default::default()),
            ..Default::default()
        };
        let mut pipe = DigestPipe::new(Some(crc()));
        for chunk in data.chunks(65_537) {
            pipe.update(Bytes::copy_from_slice(chunk)).await.unwrap();
        }
        let got = pipe.finish().await.unwrap();
        let expected: [u8; 16] = Md5::digest(&data).into();
        assert_eq!(got.md5, expected);
        let mut reference = crc();
        reference.update(&data);
        assert_eq!(
            got.checksums.unwrap().checksum_crc32,
            reference.finalize().checksum_crc32
        );

        let mut small = DigestPipe::new(None);
        small.update(Bytes::from_static(b"abc")).await.unwrap();
        let got = small.finish().await.unwrap();
        assert_eq!(hex::encode(got.md5), "900150983cd24fb0d6963f7d28e17f72");
        assert!(got.checksums.is_none());
    }
}
