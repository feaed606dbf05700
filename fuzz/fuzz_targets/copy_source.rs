//! `x-amz-copy-source` (s3s's parser, which the gateway's copy takes as
//! given) and `x-amz-copy-source-range` (the gateway's own). A range that is
//! accepted must lie within the source and be non-empty.

#![no_main]

use libfuzzer_sys::fuzz_target;
use s3s::dto::CopySource;

fuzz_target!(|input: (&str, &str, u64)| {
    let (source, range, size) = input;
    let _ = CopySource::parse(source);
    if let Ok(span) = gateway::parsers::copy_source_range(range, size) {
        assert!(span.start < span.end, "{range:?} gave {span:?}");
        assert!(span.end <= size, "{range:?} gave {span:?} of {size}");
    }
});
