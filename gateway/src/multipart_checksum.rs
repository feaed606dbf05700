//! The checksum of an object made of parts, as S3 defines it
//! (`x-amz-checksum-type`):
//! - COMPOSITE: the checksum of the concatenated binary part checksums,
//!   then `-<part count>` (any algorithm; the default but for CRC-64/NVME);
//! - FULL_OBJECT: the checksum of the whole object's bytes, which for the
//!   CRCs follows from the part CRCs and sizes (CRC-32, CRC-32C and
//!   CRC-64/NVME only; the only type CRC-64/NVME has).
//!
//! The algorithm and type are fixed by CreateMultipartUpload; every part is
//! then checksummed with that algorithm, and completion derives the
//! object's value from the parts'.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use metadata::model::PartRecord;
use s3s::checksum::ChecksumHasher;
use s3s::dto::{ChecksumAlgorithm, ChecksumType};
use s3s::{S3Error, S3ErrorCode};

use crate::checksum::algorithm_name;
use crate::crc_combine::{CRC32, CRC32C, CRC64NVME, Crc};

/// What CreateMultipartUpload fixed for the upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadChecksum {
    /// Lowercase, as in [`crate::checksum::ALGORITHMS`].
    pub algorithm: &'static str,
    pub full_object: bool,
}

fn invalid(message: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidRequest, message.into())
}

fn crc_of(algorithm: &str) -> Option<Crc> {
    match algorithm {
        "crc32" => Some(CRC32),
        "crc32c" => Some(CRC32C),
        "crc64nvme" => Some(CRC64NVME),
        _ => None,
    }
}

impl UploadChecksum {
    /// From CreateMultipartUpload's `x-amz-checksum-algorithm` and
    /// `x-amz-checksum-type`; `None` when neither is given.
    pub fn from_request(
        algorithm: Option<&ChecksumAlgorithm>,
        checksum_type: Option<&ChecksumType>,
    ) -> Result<Option<Self>, S3Error> {
        let Some(algorithm) = algorithm else {
            return match checksum_type {
                None => Ok(None),
                Some(_) => Err(invalid(
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
                )),
            };
        };
        let name = algorithm_name(algorithm.as_str()).ok_or_else(|| {
            invalid(format!(
                "Unknown checksum algorithm {}.",
                algorithm.as_str()
            ))
        })?;
        let full_object = match checksum_type.map(ChecksumType::as_str) {
            None => name == "crc64nvme",
            Some(ChecksumType::FULL_OBJECT) => true,
            Some(ChecksumType::COMPOSITE) => false,
            Some(other) => return Err(invalid(format!("Unknown checksum type {other}."))),
        };
        if full_object && crc_of(name).is_none() {
            return Err(invalid(format!(
                "The FULL_OBJECT checksum type is not supported with {}; use CRC32, CRC32C or CRC64NVME.",
                algorithm.as_str()
            )));
        }
        if !full_object && name == "crc64nvme" {
            return Err(invalid(
                "The COMPOSITE checksum type is not supported with CRC64NVME.",
            ));
        }
        Ok(Some(UploadChecksum {
            algorithm: name,
            full_object,
        }))
    }

    /// As kept in the upload's record: the algorithm and the type names.
    pub fn from_record(algorithm: Option<&str>, checksum_type: Option<&str>) -> Option<Self> {
        let algorithm = algorithm_name(algorithm?)?;
        let full_object = match checksum_type {
            Some(t) => t == ChecksumType::FULL_OBJECT,
            None => algorithm == "crc64nvme",
        };
        Some(UploadChecksum {
            algorithm,
            full_object,
        })
    }

    pub fn type_name(&self) -> &'static str {
        if self.full_object {
            ChecksumType::FULL_OBJECT
        } else {
            ChecksumType::COMPOSITE
        }
    }

    /// The object's checksum from its parts' (in order). A part without a
    /// value for the algorithm is `InvalidPart`.
    pub fn object_value(&self, parts: &[PartRecord]) -> Result<String, S3Error> {
        let missing = |n: u32| {
            S3Error::with_message(
                S3ErrorCode::InvalidPart,
                format!(
                    "Part {n} has no {} checksum, which this upload requires.",
                    self.algorithm.to_ascii_uppercase()
                ),
            )
        };
        let mut raw = Vec::with_capacity(parts.len());
        for p in parts {
            let value = p
                .checksums
                .get(self.algorithm)
                .ok_or_else(|| missing(p.part_number))?;
            let bytes = BASE64.decode(value).map_err(|_| missing(p.part_number))?;
            raw.push((bytes, p.size));
        }
        if self.full_object {
            let crc = crc_of(self.algorithm).ok_or_else(|| invalid("not a CRC"))?;
            let width = (crc.width / 8) as usize;
            let mut combined: Option<u64> = None;
            for (bytes, size) in &raw {
                if bytes.len() != width {
                    return Err(invalid("A part checksum has the wrong length."));
                }
                let value = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                combined = Some(match combined {
                    None => value,
                    Some(acc) => crc.combine(acc, value, *size),
                });
            }
            let value = combined.unwrap_or(0);
            Ok(BASE64.encode(&value.to_be_bytes()[8 - width..]))
        } else {
            let mut hasher = ChecksumHasher::default();
            match self.algorithm {
                "crc32" => hasher.crc32 = Some(Default::default()),
                "crc32c" => hasher.crc32c = Some(Default::default()),
                "sha1" => hasher.sha1 = Some(Default::default()),
                "sha256" => hasher.sha256 = Some(Default::default()),
                _ => return Err(invalid("CRC64NVME has no composite checksum")),
            }
            for (bytes, _) in &raw {
                hasher.update(bytes);
            }
            let sums = hasher.finalize();
            let value = [
                sums.checksum_crc32,
                sums.checksum_crc32c,
                sums.checksum_sha1,
                sums.checksum_sha256,
            ]
            .into_iter()
            .flatten()
            .next()
            .ok_or_else(|| invalid("no checksum computed"))?;
            Ok(format!("{value}-{}", parts.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metadata::ids::VersionId;

    fn part(n: u32, data: &[u8], algorithm: &str) -> PartRecord {
        let mut h = ChecksumHasher {
            crc32: Some(Default::default()),
            crc32c: Some(Default::default()),
            crc64nvme: Some(Default::default()),
            sha256: Some(Default::default()),
            ..Default::default()
        };
        h.update(data);
        let c = h.finalize();
        let value = match algorithm {
            "crc32" => c.checksum_crc32,
            "crc32c" => c.checksum_crc32c,
            "crc64nvme" => c.checksum_crc64nvme,
            _ => c.checksum_sha256,
        };
        PartRecord {
            part_number: n,
            version: VersionId::new(),
            size: data.len() as u64,
            etag: String::new(),
            last_modified_unix_ms: 0,
            checksums: [(algorithm.to_owned(), value.unwrap())].into(),
            shards_written_since_unix_ms: None,
        }
    }

    #[test]
    fn full_object_crcs_equal_the_crc_of_the_whole() {
        let a = vec![1u8; 5000];
        let b = vec![2u8; 777];
        let whole: Vec<u8> = a.iter().chain(&b).copied().collect();
        for algorithm in ["crc32", "crc32c", "crc64nvme"] {
            let sum = UploadChecksum {
                algorithm,
                full_object: true,
            };
            let parts = [part(1, &a, algorithm), part(2, &b, algorithm)];
            let value = sum.object_value(&parts).unwrap();
            let expected = part(1, &whole, algorithm).checksums[algorithm].clone();
            assert_eq!(value, expected, "{algorithm}");
        }
    }

    #[test]
    fn composite_checksums_hash_the_part_checksums() {
        // S3's documented example shape: base64 of the checksum of the
        // concatenated binary part checksums, then "-N".
        let parts = [part(1, b"hello ", "sha256"), part(2, b"world", "sha256")];
        let sum = UploadChecksum {
            algorithm: "sha256",
            full_object: false,
        };
        let value = sum.object_value(&parts).unwrap();
        let mut concat = Vec::new();
        for p in &parts {
            concat.extend(BASE64.decode(&p.checksums["sha256"]).unwrap());
        }
        let expected = part(9, &concat, "sha256").checksums["sha256"].clone();
        assert_eq!(value, format!("{expected}-2"));
    }

    #[test]
    fn algorithm_and_type_combinations_follow_s3() {
        let alg = |s: &'static str| ChecksumAlgorithm::from_static(s);
        let ty = |s: &'static str| ChecksumType::from_static(s);
        let crc64 = UploadChecksum::from_request(Some(&alg("CRC64NVME")), None)
            .unwrap()
            .unwrap();
        assert!(crc64.full_object);
        let crc32 = UploadChecksum::from_request(Some(&alg("CRC32")), None)
            .unwrap()
            .unwrap();
        assert!(!crc32.full_object);
        assert!(
            UploadChecksum::from_request(Some(&alg("SHA256")), Some(&ty("FULL_OBJECT"))).is_err()
        );
        assert!(
            UploadChecksum::from_request(Some(&alg("CRC64NVME")), Some(&ty("COMPOSITE"))).is_err()
        );
        assert!(UploadChecksum::from_request(None, Some(&ty("COMPOSITE"))).is_err());
        assert_eq!(UploadChecksum::from_request(None, None).unwrap(), None);
        assert_eq!(
            UploadChecksum::from_record(Some("CRC32"), Some("FULL_OBJECT")),
            Some(UploadChecksum {
                algorithm: "crc32",
                full_object: true
            })
        );
    }

    #[test]
    fn a_part_without_the_checksum_is_an_invalid_part() {
        let mut p = part(1, b"x", "crc32");
        p.checksums.clear();
        let sum = UploadChecksum {
            algorithm: "crc32",
            full_object: false,
        };
        assert_eq!(
            sum.object_value(&[p]).unwrap_err().code(),
            &S3ErrorCode::InvalidPart
        );
    }
}
