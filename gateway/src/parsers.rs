//! Public doors to the gateway's parsers of hostile input, for the fuzz
//! targets in `fuzz/`. The modules stay private so that nothing else grows
//! to depend on them; each door is a thin call and adds no behaviour.

use std::ops::Range;

use s3s::S3Error;

/// `x-amz-copy-source-range` resolved against a source of `size` bytes.
pub fn copy_source_range(header: &str, size: u64) -> Result<Range<u64>, S3Error> {
    crate::copy::copy_source_range(header, size)
}
