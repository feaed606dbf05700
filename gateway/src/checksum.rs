//! S3's additional checksums (`x-amz-checksum-crc32`, `-crc32c`, `-crc64nvme`,
//! `-sha1`, `-sha256`). A client declares them in a header or announces them in
//! `x-amz-trailer` and sends the value after the body (new SDKs do this by
//! default). We compute every declared algorithm in the same pass as the ETag,
//! refuse the upload (`BadDigest`, nothing stored) when a value differs, and
//! keep the values to return on GET and HEAD with `x-amz-checksum-mode: ENABLED`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::HeaderMap;
use s3s::checksum::ChecksumHasher;
use s3s::dto::{Checksum, ChecksumAlgorithm, ChecksumType};
use s3s::{S3Error, S3ErrorCode};

/// The algorithms, by the lowercase names used in headers and in storage.
pub const ALGORITHMS: [&str; 5] = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

/// The value `c` holds for `algorithm` (lowercase name).
pub fn value_of<'a>(c: &'a Checksum, algorithm: &str) -> Option<&'a String> {
    match algorithm {
        "crc32" => c.checksum_crc32.as_ref(),
        "crc32c" => c.checksum_crc32c.as_ref(),
        "crc64nvme" => c.checksum_crc64nvme.as_ref(),
        "sha1" => c.checksum_sha1.as_ref(),
        "sha256" => c.checksum_sha256.as_ref(),
        _ => None,
    }
}

/// The lowercase name of an algorithm given as `CRC32`, `crc32` or
/// `x-amz-checksum-crc32`.
pub fn algorithm_name(algorithm: &str) -> Option<&'static str> {
    let lower = algorithm.trim().to_ascii_lowercase();
    let name = lower.strip_prefix("x-amz-checksum-").unwrap_or(&lower);
    ALGORITHMS.iter().copied().find(|a| *a == name)
}

/// The checksums a request declares.
#[derive(Debug, Default, Clone)]
pub struct DeclaredChecksums {
    /// Values sent as headers.
    pub values: Checksum,
    /// Algorithms whose values follow the body as trailers.
    pub trailer: Vec<&'static str>,
    /// The algorithm the client asked us to compute and keep.
    pub requested: Option<&'static str>,
}

impl DeclaredChecksums {
    pub fn new(
        headers: &HeaderMap,
        values: Checksum,
        algorithm: Option<&ChecksumAlgorithm>,
    ) -> Self {
        let trailer = headers
            .get_all("x-amz-trailer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(algorithm_name)
            .collect();
        DeclaredChecksums {
            values,
            trailer,
            requested: algorithm.and_then(|a| algorithm_name(a.as_str())),
        }
    }

    fn wants(&self, algorithm: &str) -> bool {
        value_of(&self.values, algorithm).is_some()
            || self.trailer.contains(&algorithm)
            || self.requested == Some(algorithm)
    }

    /// A hasher for every declared algorithm, or `None` when none is.
    pub fn hasher(&self) -> Option<ChecksumHasher> {
        if !ALGORITHMS.iter().any(|a| self.wants(a)) {
            return None;
        }
        let mut h = ChecksumHasher::default();
        if self.wants("crc32") {
            h.crc32 = Some(Default::default());
        }
        if self.wants("crc32c") {
            h.crc32c = Some(Default::default());
        }
        if self.wants("crc64nvme") {
            h.crc64nvme = Some(Default::default());
        }
        if self.wants("sha1") {
            h.sha1 = Some(Default::default());
        }
        if self.wants("sha256") {
            h.sha256 = Some(Default::default());
        }
        Some(h)
    }

    /// Compares what was computed over the body with what the client sent
    /// (headers, then trailers), and returns the values to store.
    pub fn verify(
        &self,
        computed: Option<&Checksum>,
        trailers: Option<&HeaderMap>,
    ) -> Result<BTreeMap<String, String>, S3Error> {
        let mut stored = BTreeMap::new();
        let Some(computed) = computed else {
            return Ok(stored);
        };
        for algorithm in ALGORITHMS {
            let Some(actual) = value_of(computed, algorithm) else {
                continue;
            };
            let from_trailer = trailers
                .and_then(|t| t.get(format!("x-amz-checksum-{algorithm}")))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let expected = value_of(&self.values, algorithm).cloned().or(from_trailer);
            if expected.is_none() && self.trailer.contains(&algorithm) {
                let mut e = S3Error::with_message(
                    S3ErrorCode::Custom("MalformedTrailerError".into()),
                    format!(
                        "The trailing x-amz-checksum-{algorithm} announced in x-amz-trailer was not received."
                    ),
                );
                e.set_status_code(http::StatusCode::BAD_REQUEST);
                return Err(e);
            }
            if let Some(expected) = expected
                && !same_digest(&expected, actual)
            {
                return Err(S3Error::with_message(
                    S3ErrorCode::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        algorithm.to_ascii_uppercase()
                    ),
                ));
            }
            stored.insert(algorithm.to_owned(), actual.clone());
        }
        Ok(stored)
    }
}

/// Base64 values compared by the bytes they encode, so padding or a client's
/// odd spelling does not matter; undecodable input never matches.
fn same_digest(a: &str, b: &str) -> bool {
    match (BASE64.decode(a.trim()), BASE64.decode(b.trim())) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Stored checksums as response fields. A composite multipart checksum
/// carries its part count (`...-N`); every other value is of the whole
/// object's bytes.
pub fn to_output(stored: &BTreeMap<String, String>) -> Checksum {
    let checksum_type = (!stored.is_empty()).then(|| {
        if stored.values().any(|v| v.contains('-')) {
            ChecksumType::from_static(ChecksumType::COMPOSITE)
        } else {
            ChecksumType::from_static(ChecksumType::FULL_OBJECT)
        }
    });
    Checksum {
        checksum_crc32: stored.get("crc32").cloned(),
        checksum_crc32c: stored.get("crc32c").cloned(),
        checksum_crc64nvme: stored.get("crc64nvme").cloned(),
        checksum_sha1: stored.get("sha1").cloned(),
        checksum_sha256: stored.get("sha256").cloned(),
        checksum_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compute(declared: &DeclaredChecksums, data: &[u8]) -> Checksum {
        let mut h = declared.hasher().unwrap();
        h.update(data);
        h.finalize()
    }

    #[test]
    fn header_values_are_verified() {
        // CRC32 of "hello world" is 0x0d4a1185.
        let good = BASE64.encode(0x0d4a_1185u32.to_be_bytes());
        let declared = DeclaredChecksums::new(
            &HeaderMap::new(),
            Checksum {
                checksum_crc32: Some(good.clone()),
                ..Default::default()
            },
            None,
        );
        let computed = compute(&declared, b"hello world");
        let stored = declared.verify(Some(&computed), None).unwrap();
        assert_eq!(stored.get("crc32"), Some(&good));

        let computed = compute(&declared, b"hello worle");
        let err = declared.verify(Some(&computed), None).unwrap_err();
        assert_eq!(err.code(), &S3ErrorCode::BadDigest);
    }

    #[test]
    fn trailer_values_are_verified_and_required() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-trailer", "x-amz-checksum-crc32c".parse().unwrap());
        let declared = DeclaredChecksums::new(&headers, Checksum::default(), None);
        assert_eq!(declared.trailer, vec!["crc32c"]);
        let computed = compute(&declared, b"abc");
        let value = computed.checksum_crc32c.clone().unwrap();

        let mut trailers = HeaderMap::new();
        trailers.insert("x-amz-checksum-crc32c", value.parse().unwrap());
        assert!(declared.verify(Some(&computed), Some(&trailers)).is_ok());

        let mut wrong = HeaderMap::new();
        wrong.insert("x-amz-checksum-crc32c", "AAAAAA==".parse().unwrap());
        assert!(declared.verify(Some(&computed), Some(&wrong)).is_err());
        assert!(declared.verify(Some(&computed), None).is_err());
    }

    #[test]
    fn requested_algorithm_is_computed_without_a_value() {
        let declared = DeclaredChecksums::new(
            &HeaderMap::new(),
            Checksum::default(),
            Some(&ChecksumAlgorithm::from_static(ChecksumAlgorithm::SHA256)),
        );
        let computed = compute(&declared, b"");
        let stored = declared.verify(Some(&computed), None).unwrap();
        assert_eq!(
            stored.get("sha256").map(String::as_str),
            Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
        );
        assert!(DeclaredChecksums::default().hasher().is_none());
    }
}
