//! `aws-chunked` request bodies built by hand, as the SigV4 streaming
//! specification describes them, with the faults no SDK would send: a wrong
//! chunk or trailer signature, a missing final chunk, a declared decoded
//! length that differs from the data, a body cut short on the wire.
//!
//! Signed chunks: `hex(size);chunk-signature=SIG\r\nDATA\r\n`, where SIG is
//! the HMAC (signing key) of `AWS4-HMAC-SHA256-PAYLOAD\n` + date + `\n` +
//! scope + `\n` + previous signature + `\n` + SHA-256("") + `\n` +
//! SHA-256(DATA), the first previous signature being the seed signature of
//! the `Authorization` header. The body ends with a signed chunk of size 0.
//! Unsigned chunks (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`) are `hex(size)\r\n
//! DATA\r\n`. Trailers follow the final chunk as `name:value\r\n` lines, then,
//! when signed, `x-amz-trailer-signature:SIG\r\n` with SIG the HMAC of
//! `AWS4-HMAC-SHA256-TRAILER\n` + date + `\n` + scope + `\n` + final chunk's
//! signature + `\n` + SHA-256 of the `name:value\n` lines; then `\r\n`.

use crate::raw_sigv4::{Signed, Signer, hmac, sha256_hex};

/// The three streaming forms of `x-amz-content-sha256`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streaming {
    Signed,
    SignedTrailer,
    UnsignedTrailer,
}

impl Streaming {
    pub fn payload(self) -> &'static str {
        match self {
            Streaming::Signed => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            Streaming::SignedTrailer => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            Streaming::UnsignedTrailer => "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        }
    }

    fn signs_chunks(self) -> bool {
        self != Streaming::UnsignedTrailer
    }
}

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A PutObject (or any PUT) whose body is sent `aws-chunked`.
#[derive(Clone)]
pub struct ChunkedPut {
    pub mode: Streaming,
    /// URI-encoded path, e.g. `/bucket/key`.
    pub path: String,
    /// The data chunks, in order; the final zero-length chunk is added.
    pub chunks: Vec<Vec<u8>>,
    /// Trailing headers (lower-case names), announced in `x-amz-trailer`.
    pub trailer: Vec<(String, String)>,
    /// `x-amz-decoded-content-length`; the data's length when `None`.
    pub decoded_length: Option<usize>,
    pub content_encoding: String,
    /// Sends a wrong signature with this chunk (`chunks.len()` is the final
    /// zero-length chunk).
    pub bad_signature_at: Option<usize>,
    pub bad_trailer_signature: bool,
    /// Leaves out the final zero-length chunk (and so any trailer).
    pub omit_final: bool,
    /// More headers to sign and send (lower-case names).
    pub extra_headers: Vec<(String, String)>,
}

impl ChunkedPut {
    pub fn new(mode: Streaming, path: &str, chunks: Vec<Vec<u8>>) -> Self {
        ChunkedPut {
            mode,
            path: path.to_owned(),
            chunks,
            trailer: Vec::new(),
            decoded_length: None,
            content_encoding: "aws-chunked".to_owned(),
            bad_signature_at: None,
            bad_trailer_signature: false,
            omit_final: false,
            extra_headers: Vec::new(),
        }
    }

    pub fn with_trailer(mut self, name: &str, value: &str) -> Self {
        self.trailer.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The data the chunks carry, joined.
    pub fn data(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    /// How many bytes of the encoded body come before the final zero-length
    /// chunk.
    pub fn data_chunks_len(&self) -> usize {
        let mut without_final = self.clone();
        without_final.omit_final = true;
        without_final.encode(&placeholder()).len()
    }

    /// The signed headers (with `content-length`) and the encoded body.
    pub fn build(
        &self,
        signer: &Signer<'_>,
        host: &str,
        now: time::OffsetDateTime,
    ) -> (Vec<(String, String)>, Vec<u8>) {
        // Signatures have a fixed length, so a body encoded with placeholder
        // signatures has the length of the real one: sign that length first.
        let length = self.encode(&placeholder()).len();
        let decoded = self
            .decoded_length
            .unwrap_or_else(|| self.chunks.iter().map(Vec::len).sum());
        let mut headers = vec![
            ("content-encoding".to_owned(), self.content_encoding.clone()),
            ("content-length".to_owned(), length.to_string()),
            (
                "x-amz-decoded-content-length".to_owned(),
                decoded.to_string(),
            ),
        ];
        if !self.trailer.is_empty() {
            let names: Vec<&str> = self.trailer.iter().map(|(k, _)| k.as_str()).collect();
            headers.push(("x-amz-trailer".to_owned(), names.join(",")));
        }
        headers.extend(self.extra_headers.iter().cloned());
        let signed = signer.sign_request(
            "PUT",
            host,
            &self.path,
            "",
            headers,
            self.mode.payload(),
            now,
        );
        let body = self.encode(&signed);
        assert_eq!(body.len(), length);
        (signed.headers, body)
    }

    fn encode(&self, seed: &Signed) -> Vec<u8> {
        let mut out = Vec::new();
        let mut previous = seed.signature.clone();
        let empty = Vec::new();
        let finals: &[Vec<u8>] = if self.omit_final {
            &[]
        } else {
            std::slice::from_ref(&empty)
        };
        for (i, data) in self.chunks.iter().chain(finals).enumerate() {
            out.extend_from_slice(format!("{:x}", data.len()).as_bytes());
            if self.mode.signs_chunks() {
                let signature = if self.bad_signature_at == Some(i) {
                    near_miss(&chunk_signature(seed, &previous, data))
                } else {
                    chunk_signature(seed, &previous, data)
                };
                out.extend_from_slice(format!(";chunk-signature={signature}").as_bytes());
                previous = signature;
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(data);
            if !data.is_empty() || self.trailer.is_empty() {
                out.extend_from_slice(b"\r\n");
            }
        }
        if self.omit_final || self.trailer.is_empty() {
            return out;
        }
        for (name, value) in &self.trailer {
            out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        }
        if self.mode == Streaming::SignedTrailer {
            let signature = if self.bad_trailer_signature {
                near_miss(&trailer_signature(seed, &previous, &self.trailer))
            } else {
                trailer_signature(seed, &previous, &self.trailer)
            };
            out.extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// The right signature with its last hex digit changed: well-formed, and
/// wrong only where a compare that stops early or skips the tail would not look.
fn near_miss(signature: &str) -> String {
    let (head, last) = signature.split_at(signature.len() - 1);
    let flipped = if last == "0" { "1" } else { "0" };
    format!("{head}{flipped}")
}

/// Signing values of the right lengths, for measuring encoded bodies.
fn placeholder() -> Signed {
    Signed {
        headers: Vec::new(),
        signature: "0".repeat(64),
        amz_date: String::new(),
        scope: String::new(),
        key: Vec::new(),
    }
}

fn chunk_signature(seed: &Signed, previous: &str, data: &[u8]) -> String {
    let to_sign = format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{previous}\n{EMPTY_SHA256}\n{}",
        seed.amz_date,
        seed.scope,
        sha256_hex(data)
    );
    hex::encode(hmac(&seed.key, to_sign.as_bytes()))
}

fn trailer_signature(seed: &Signed, previous: &str, trailer: &[(String, String)]) -> String {
    let mut lines = trailer.to_vec();
    lines.sort();
    let canonical: String = lines.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let to_sign = format!(
        "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{previous}\n{}",
        seed.amz_date,
        seed.scope,
        sha256_hex(canonical.as_bytes())
    );
    hex::encode(hmac(&seed.key, to_sign.as_bytes()))
}

/// What came back on a raw connection: the status line's code, if the server
/// wrote one before closing, and everything after the status line.
pub struct RawReply {
    pub status: Option<u16>,
    pub text: String,
}

/// How a raw request ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The client shuts down its writing half after the bytes given, as a
    /// client that dies mid-upload does (the server may not answer at all).
    HangUp,
    /// The client waits for the answer (send `connection: close` so that the
    /// server ends the connection after it).
    Wait,
}

/// Writes `method path` with `headers` (all of them, `host` and
/// `content-length` included, exactly as given) and then only `body` on a
/// plain TCP connection, ends as `ending` says and reads whatever answer
/// comes until the server closes (or 15 s pass).
pub async fn send_raw(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    ending: Ending,
) -> RawReply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the S3 endpoint");
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    stream.flush().await.expect("flush");
    if ending == Ending::HangUp {
        stream.shutdown().await.expect("shut down the writing half");
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(15),
        stream.read_to_end(&mut answer),
    )
    .await;
    // A reset after the answer (or instead of one) is a fine ending too.
    if let Ok(Err(e)) = &read {
        eprintln!("raw connection ended with {e}");
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    RawReply { status, text }
}
