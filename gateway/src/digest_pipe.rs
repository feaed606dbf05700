//! Every digest of a request body in one pass: the MD5 of the S3 ETag and the
//! additional checksums a client declared. MD5 is the single most expensive
//! thing a PUT does (about 0.6 GB/s per core, ten times slower than the codec),
//! so small bodies hash inline, and once a body grows past a threshold the
//! hashers move to a blocking thread fed through a bounded channel: hashing
//! then overlaps with encoding and network writes instead of adding to them.

use bytes::Bytes;
use md5::{Digest, Md5};
use s3s::checksum::ChecksumHasher;
use s3s::dto::Checksum;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Past this many bytes, hashing moves off the async worker.
const INLINE_LIMIT: usize = 256 * 1024;

struct Hashers {
    md5: Md5,
    checksums: Option<ChecksumHasher>,
}

impl Hashers {
    fn update(&mut self, chunk: &[u8]) {
        self.md5.update(chunk);
        if let Some(c) = &mut self.checksums {
            c.update(chunk);
        }
    }

    fn finish(self) -> BodyDigests {
        BodyDigests {
            md5: self.md5.finalize().into(),
            checksums: self.checksums.map(ChecksumHasher::finalize),
        }
    }
}

/// The digests of a whole body.
pub struct BodyDigests {
    pub md5: [u8; 16],
    pub checksums: Option<Checksum>,
}

pub struct DigestPipe {
    state: State,
}

enum State {
    /// Boxed: the hashers are large and move between states.
    Inline {
        hashers: Box<Hashers>,
        seen: usize,
    },
    Threaded {
        tx: mpsc::Sender<Bytes>,
        done: JoinHandle<BodyDigests>,
    },
    Moving,
}

impl DigestPipe {
    pub fn new(checksums: Option<ChecksumHasher>) -> Self {
        DigestPipe {
            state: State::Inline {
                hashers: Box::new(Hashers {
                    md5: Md5::new(),
                    checksums,
                }),
                seen: 0,
            },
        }
    }

    pub async fn update(&mut self, chunk: Bytes) {
        match &mut self.state {
            State::Inline { hashers, seen } if *seen + chunk.len() <= INLINE_LIMIT => {
                hashers.update(&chunk);
                *seen += chunk.len();
            }
            State::Inline { .. } => {
                let State::Inline { hashers, .. } =
                    std::mem::replace(&mut self.state, State::Moving)
                else {
                    return;
                };
                let (tx, mut rx) = mpsc::channel::<Bytes>(16);
                let done = tokio::task::spawn_blocking(move || {
                    let mut hashers = hashers;
                    while let Some(chunk) = rx.blocking_recv() {
                        hashers.update(&chunk);
                    }
                    hashers.finish()
                });
                // The receiver lives until `tx` is dropped, so this cannot fail.
                let _ = tx.send(chunk).await;
                self.state = State::Threaded { tx, done };
            }
            State::Threaded { tx, .. } => {
                let _ = tx.send(chunk).await;
            }
            State::Moving => {}
        }
    }

    pub async fn finish(self) -> Result<BodyDigests, tokio::task::JoinError> {
        match self.state {
            State::Inline { hashers, .. } => Ok(hashers.finish()),
            State::Threaded { tx, done } => {
                drop(tx);
                done.await
            }
            State::Moving => Ok(Hashers {
                md5: Md5::new(),
                checksums: None,
            }
            .finish()),
        }
    }
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
            pipe.update(Bytes::copy_from_slice(chunk)).await;
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
        small.update(Bytes::from_static(b"abc")).await;
        let got = small.finish().await.unwrap();
        assert_eq!(hex::encode(got.md5), "900150983cd24fb0d6963f7d28e17f72");
        assert!(got.checksums.is_none());
    }
}
