//! S3's size limits, in one place: how large one PUT, one part, a whole
//! object and a copy source may be, and how small a part may be.
//!
//! An upload is refused on what its request declares (Content-Length, or
//! `x-amz-decoded-content-length` for an `aws-chunked` body) before a byte
//! of its body is read, so an over-large upload costs one round trip. The
//! declaration is only a claim, so [`UploadLength`] also counts the bytes
//! as they stream in and stops a body that runs past its declared length or
//! past the limit; what was written of it is then freed like any refused
//! body.

use s3s::{S3Error, S3ErrorCode};

use crate::error::GatewayError;

const GIB: u64 = 1024 * 1024 * 1024;

/// PutObject: 5 GiB. Larger objects are uploaded in parts.
pub const MAX_PUT_SIZE: u64 = 5 * GIB;
/// UploadPart: 5 GiB per part.
pub const MAX_PART_SIZE: u64 = 5 * GIB;
/// S3's smallest part, but for the last one.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// An object CompleteMultipartUpload makes: 5 TiB.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * GIB;
/// CopyObject's source, and the bytes one UploadPartCopy copies: 5 GiB.
/// Larger objects are copied a range per part.
pub const MAX_COPY_SOURCE_SIZE: u64 = 5 * GIB;

/// An upload body's length: what the request declared, checked against the
/// limit for its kind before the body is read, then the bytes counted as
/// they arrive.
#[derive(Debug)]
pub struct UploadLength {
    declared: Option<u64>,
    max: u64,
    seen: u64,
}

impl UploadLength {
    /// `EntityTooLarge` when the declared length is over `max`.
    pub fn new(declared: Option<u64>, max: u64) -> Result<Self, GatewayError> {
        if declared.is_some_and(|d| d > max) {
            return Err(GatewayError::EntityTooLarge { max });
        }
        Ok(UploadLength {
            declared,
            max,
            seen: 0,
        })
    }

    pub fn declared(&self) -> Option<u64> {
        self.declared
    }

    /// Counts `n` more bytes: refused once the body runs past its declared
    /// length (`BodyTooLong`) or, undeclared, past the limit.
    pub fn take(&mut self, n: usize) -> Result<(), GatewayError> {
        self.seen = self.seen.saturating_add(n as u64);
        match self.declared {
            Some(expected) if self.seen > expected => Err(GatewayError::BodyTooLong { expected }),
            _ if self.seen > self.max => Err(GatewayError::EntityTooLarge { max: self.max }),
            _ => Ok(()),
        }
    }

    /// The body's length once it has ended: `IncompleteBody` when it is
    /// short of the declared length.
    pub fn finish(&self) -> Result<u64, GatewayError> {
        match self.declared {
            Some(expected) if self.seen != expected => Err(GatewayError::IncompleteBody {
                got: self.seen,
                expected,
            }),
            _ => Ok(self.seen),
        }
    }
}

/// CompleteMultipartUpload: the parts may add up to [`MAX_OBJECT_SIZE`].
pub(crate) fn check_object_size(size: u64) -> Result<(), GatewayError> {
    if size > MAX_OBJECT_SIZE {
        return Err(GatewayError::EntityTooLarge {
            max: MAX_OBJECT_SIZE,
        });
    }
    Ok(())
}

/// CopyObject's source or UploadPartCopy's range, `len` bytes: S3 answers
/// `InvalidRequest` (not `EntityTooLarge`) for one over
/// [`MAX_COPY_SOURCE_SIZE`], in these words.
pub(crate) fn check_copy_source(len: u64) -> Result<(), S3Error> {
    if len > MAX_COPY_SOURCE_SIZE {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            format!(
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_COPY_SOURCE_SIZE}"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn too_large(r: Result<impl std::fmt::Debug, GatewayError>) -> bool {
        matches!(r, Err(GatewayError::EntityTooLarge { .. }))
    }

    #[test]
    fn the_limits_are_s3s() {
        assert_eq!(MAX_PUT_SIZE, 5_368_709_120);
        assert_eq!(MAX_PART_SIZE, 5_368_709_120);
        assert_eq!(MAX_COPY_SOURCE_SIZE, 5_368_709_120);
        assert_eq!(MAX_OBJECT_SIZE, 5_497_558_138_880);
        assert_eq!(MIN_PART_SIZE, 5_242_880);
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_the_body() {
        assert!(UploadLength::new(Some(MAX_PUT_SIZE), MAX_PUT_SIZE).is_ok());
        assert!(UploadLength::new(None, MAX_PUT_SIZE).is_ok());
        assert!(too_large(UploadLength::new(
            Some(MAX_PUT_SIZE + 1),
            MAX_PUT_SIZE
        )));
        let e: S3Error = UploadLength::new(Some(u64::MAX), MAX_PART_SIZE)
            .unwrap_err()
            .into();
        assert_eq!(*e.code(), S3ErrorCode::EntityTooLarge);
        assert_eq!(e.status_code().map(|s| s.as_u16()), Some(400));
    }

    #[test]
    fn an_undeclared_body_stops_at_the_limit() {
        let mut len = UploadLength::new(None, 10).unwrap();
        len.take(6).unwrap();
        len.take(4).unwrap();
        assert_eq!(len.finish().unwrap(), 10);
        assert!(too_large(len.take(1)));
    }

    #[test]
    fn a_declared_body_must_match_its_length() {
        let mut len = UploadLength::new(Some(5), 10).unwrap();
        len.take(3).unwrap();
        assert!(matches!(
            len.finish(),
            Err(GatewayError::IncompleteBody {
                got: 3,
                expected: 5
            })
        ));
        len.take(2).unwrap();
        assert_eq!(len.finish().unwrap(), 5);
        assert!(matches!(
            len.take(1),
            Err(GatewayError::BodyTooLong { expected: 5 })
        ));
    }

    #[test]
    fn objects_and_copy_sources_have_their_own_limits() {
        assert!(check_object_size(MAX_OBJECT_SIZE).is_ok());
        assert!(too_large(check_object_size(MAX_OBJECT_SIZE + 1)));
        assert!(check_copy_source(MAX_COPY_SOURCE_SIZE).is_ok());
        let e = check_copy_source(MAX_COPY_SOURCE_SIZE + 1).unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidRequest);
        assert_eq!(
            e.message(),
            Some(
                "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120"
            )
        );
    }
}
