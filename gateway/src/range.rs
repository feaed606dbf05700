//! Resolving an HTTP `Range` header against an object's size. s3s parses the
//! header (`bytes=a-b`, `bytes=a-`, `bytes=-n`); this decides what it means for
//! an object, as S3 does: an end past the object is clamped, a start at or past
//! the end is `416 InvalidRange`, a suffix longer than the object is all of it.

use std::ops::Range as Span;

use s3s::dto::Range;
use s3s::{S3Error, S3ErrorCode};

/// The byte span a GET serves: `None` without a Range header (a 200 with the
/// whole object), `Some(span)` for a satisfiable range (a 206).
pub fn resolve(range: Option<&Range>, size: u64) -> Result<Option<Span<u64>>, S3Error> {
    let Some(range) = range else {
        return Ok(None);
    };
    let not_satisfiable = || {
        S3Error::with_message(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        )
    };
    // A suffix range of an empty object resolves to no bytes at all: there is
    // no first byte to name in a Content-Range, so it is not satisfiable.
    match range.check(size) {
        Ok(span) if span.start < span.end => Ok(Some(span)),
        _ => Err(not_satisfiable()),
    }
}

/// `Content-Range` of a 206 response.
pub fn content_range(span: &Span<u64>, size: u64) -> String {
    format!("bytes {}-{}/{}", span.start, span.end - 1, size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: RFC 9110 byte ranges as S3 applies them to one range.
    fn model(header: &str, size: u64) -> Option<Result<Span<u64>, ()>> {
        let spec = header.strip_prefix("bytes=")?;
        let (a, b) = spec.split_once('-')?;
        if a.is_empty() {
            let n: u64 = b.parse().ok()?;
            if n == 0 || size == 0 {
                return Some(Err(()));
            }
            return Some(Ok(size - n.min(size)..size));
        }
        let first: u64 = a.parse().ok()?;
        let last: Option<u64> = if b.is_empty() {
            None
        } else {
            Some(b.parse().ok()?)
        };
        if let Some(last) = last
            && last < first
        {
            return None; // syntactically invalid
        }
        if first >= size {
            return Some(Err(()));
        }
        let end = last.map_or(size, |l| l.min(size - 1) + 1);
        Some(Ok(first..end))
    }

    fn check(header: &str, size: u64) {
        let parsed = Range::parse(header).ok();
        let expected = model(header, size);
        match (parsed, expected) {
            (None, None) => {}
            (Some(r), Some(want)) => {
                let got = resolve(Some(&r), size);
                match (got, want) {
                    (Ok(Some(span)), Ok(w)) => {
                        assert_eq!(span, w, "{header} of {size}");
                        assert!(span.end <= size && span.start < span.end);
                        let cr = content_range(&span, size);
                        assert!(cr.ends_with(&format!("/{size}")));
                    }
                    (Err(e), Err(())) => assert_eq!(e.code(), &S3ErrorCode::InvalidRange),
                    (got, want) => panic!("{header} of {size}: got {got:?}, want {want:?}"),
                }
            }
            (p, e) => panic!("{header}: parser {p:?} vs model {e:?}"),
        }
    }

    #[test]
    fn examples() {
        check("bytes=0-0", 10);
        check("bytes=0-", 10);
        check("bytes=9-", 10);
        check("bytes=10-", 10);
        check("bytes=5-100", 10);
        check("bytes=-3", 10);
        check("bytes=-30", 10);
        check("bytes=-0", 10);
        check("bytes=0-0", 0);
        assert_eq!(resolve(None, 10).unwrap(), None);
    }

    proptest! {
        #[test]
        fn first_last(first in 0u64..5000, len in 0u64..5000, size in 0u64..5000) {
            check(&format!("bytes={first}-{}", first + len), size);
        }

        #[test]
        fn open_and_suffix(n in 0u64..5000, size in 0u64..5000) {
            check(&format!("bytes={n}-"), size);
            check(&format!("bytes=-{n}"), size);
        }

        #[test]
        fn garbage_never_panics(s in "bytes=[0-9-]{0,12}", size in 0u64..100) {
            let _ = Range::parse(&s).map(|r| resolve(Some(&r), size));
        }
    }
}
