//! An `aws-chunked` body is complete only with its final zero-length chunk
//! (whose signature, in signed streams, closes the chain). The protocol
//! layer accepts a stream that simply stops at a chunk boundary; this guard
//! watches the framing as the bytes pass and turns such an end into an
//! error, so a connection cut between chunks stores nothing.
//!
//! It reads only the framing (`<hex size>[;extensions]\r\n<data>\r\n`) and
//! never copies data. If the framing is not what it expects, it stops
//! watching and leaves the verdict to the protocol layer's own parser.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use gateway::body_error::MissingFinalChunk;
use http_body::{Body, Frame, SizeHint};

/// Where the framing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk's hex size.
    Size {
        size: u64,
        digits: u8,
    },
    /// Skipping `;chunk-signature=...` up to the line's end.
    Extensions {
        size: u64,
    },
    /// Expecting the `\n` of the size line.
    SizeLf {
        size: u64,
    },
    /// Skipping a chunk's data.
    Data {
        left: u64,
    },
    /// Expecting the `\r\n` after a chunk's data.
    DataCr,
    DataLf,
    /// The final chunk arrived; trailers may follow.
    Done,
    /// Not framing we understand; the protocol layer decides.
    Unknown,
}

#[derive(Debug, Clone, Copy)]
pub struct Framing(State);

impl Default for Framing {
    fn default() -> Self {
        Framing(State::Size { size: 0, digits: 0 })
    }
}

impl Framing {
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.0 {
                State::Done | State::Unknown => return,
                State::Data { left } => {
                    let n = (*left).min(bytes.len() as u64);
                    *left -= n;
                    bytes = &bytes[n as usize..];
                    if *left == 0 {
                        self.0 = State::DataCr;
                    }
                    continue;
                }
                _ => {}
            }
            let b = bytes[0];
            bytes = &bytes[1..];
            self.0 = match self.0 {
                State::Size { size, digits } => match (b as char).to_digit(16) {
                    Some(d) if digits < 16 => State::Size {
                        size: (size << 4) | u64::from(d),
                        digits: digits + 1,
                    },
                    None if digits > 0 && b == b';' => State::Extensions { size },
                    None if digits > 0 && b == b'\r' => State::SizeLf { size },
                    _ => State::Unknown,
                },
                State::Extensions { size } if b == b'\r' => State::SizeLf { size },
                State::Extensions { size } if b != b'\n' => State::Extensions { size },
                State::SizeLf { size: 0 } if b == b'\n' => State::Done,
                State::SizeLf { size } if b == b'\n' => State::Data { left: size },
                State::DataCr if b == b'\r' => State::DataLf,
                State::DataLf if b == b'\n' => State::Size { size: 0, digits: 0 },
                _ => State::Unknown,
            };
        }
    }

    /// Whether a body that ends here is cut short: the framing was followed
    /// and the final chunk never came.
    pub fn cut_short(&self) -> bool {
        !matches!(self.0, State::Done | State::Unknown)
    }
}

/// The request body with the guard around it.
pub struct FinalChunkGuard<B> {
    inner: B,
    framing: Framing,
    failed: bool,
}

impl<B> FinalChunkGuard<B> {
    pub fn new(inner: B) -> Self {
        FinalChunkGuard {
            inner,
            framing: Framing::default(),
            failed: false,
        }
    }
}

impl<B> Body for FinalChunkGuard<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let data = data.clone();
                    self.framing.feed(&data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) if self.framing.cut_short() => {
                self.failed = true;
                Poll::Ready(Some(Err(Box::new(MissingFinalChunk))))
            }
            other => other.map(|o| o.map(|r| r.map_err(Into::into))),
        }
    }

    fn is_end_stream(&self) -> bool {
        // The guard may still have an error to report at the end.
        self.inner.is_end_stream() && !self.framing.cut_short()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn framed(chunks: &[&[u8]], final_chunk: bool, signed: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let ext = if signed {
            ";chunk-signature=abc123"
        } else {
            ""
        };
        for c in chunks {
            out.extend(format!("{:x}{ext}\r\n", c.len()).as_bytes());
            out.extend_from_slice(c);
            out.extend(b"\r\n");
        }
        if final_chunk {
            out.extend(format!("0{ext}\r\n").as_bytes());
            out.extend(b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n");
        }
        out
    }

    fn verdict(body: &[u8], splits: &[usize]) -> bool {
        let mut f = Framing::default();
        let mut at = 0;
        for &s in splits {
            let s = s.min(body.len()).max(at);
            f.feed(&body[at..s]);
            at = s;
        }
        f.feed(&body[at..]);
        f.cut_short()
    }

    #[test]
    fn a_complete_stream_passes_and_a_cut_one_does_not() {
        let data = [b"hello".as_slice(), &[0u8; 70_000], b"x"];
        for signed in [false, true] {
            assert!(!verdict(&framed(&data, true, signed), &[]));
            assert!(verdict(&framed(&data, false, signed), &[]));
            // Cut inside a chunk, or inside the final chunk's line.
            let whole = framed(&data, true, signed);
            assert!(verdict(&whole[..20], &[]));
            let final_at = framed(&data, false, signed).len();
            assert!(verdict(&whole[..final_at + 1], &[]));
        }
        assert!(!verdict(&framed(&[], true, true), &[]));
    }

    #[test]
    fn unknown_framing_is_left_to_the_parser() {
        assert!(!verdict(b"not a chunk at all", &[]));
        assert!(!verdict(b"zz\r\n", &[]));
    }

    proptest! {
        #[test]
        fn the_verdict_does_not_depend_on_how_bytes_arrive(
            sizes in proptest::collection::vec(1usize..3000, 0..6),
            splits in proptest::collection::vec(0usize..20_000, 0..12),
            complete in any::<bool>(),
            signed in any::<bool>(),
        ) {
            let chunks: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![7u8; n]).collect();
            let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
            let body = framed(&refs, complete, signed);
            let mut splits = splits;
            splits.sort_unstable();
            prop_assert_eq!(verdict(&body, &splits), !complete);
        }
    }
}
