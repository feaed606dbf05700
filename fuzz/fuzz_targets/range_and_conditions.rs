//! `Range` (s3s parses, the gateway resolves against the object's size) and
//! the conditional headers: `If-Match`/`If-None-Match` (s3s's entity-tag
//! conditions), `If-Modified-Since` (s3s's HTTP date) and `If-Range` (the
//! edge's own reading). A satisfiable range must lie within the object.

#![no_main]

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use s3s::dto::{ETagCondition, Range, Timestamp, TimestampFormat};

fuzz_target!(|input: (&str, &[u8], u64)| {
    let (text, raw, size) = input;

    if let Ok(range) = Range::parse(text)
        && let Ok(Some(span)) = gateway::range::resolve(Some(&range), size)
    {
        assert!(span.start < span.end, "{text:?} gave {span:?}");
        assert!(span.end <= size, "{text:?} gave {span:?} of {size}");
        let _ = gateway::range::content_range(&span, size);
    }

    let _ = ETagCondition::parse_http_header(raw);
    let _ = Timestamp::parse(TimestampFormat::HttpDate, text);
    if let Ok(value) = HeaderValue::from_bytes(raw) {
        let _ = edge::parsers::if_range_validator(&value);
    }
});
