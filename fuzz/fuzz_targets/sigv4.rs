//! The checks the edge makes on a request's head before SigV4 verification:
//! query decoding, the presigned-URL limits (`X-Amz-Expires`, `X-Amz-Date`),
//! the refusals (SigV2, browser forms, anonymous `response-*` overrides) and
//! whether `Range` is covered by the signature. The request is built from
//! the input as a client could send it; nothing may panic.

#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, &str, Vec<(&str, &[u8])>)| {
    let (method, target, headers) = input;
    let method = match method % 4 {
        0 => Method::GET,
        1 => Method::PUT,
        2 => Method::POST,
        _ => Method::HEAD,
    };
    let Ok(uri) = target.parse::<Uri>() else {
        return;
    };
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            map.append(name, value);
        }
    }

    let query = uri.query();
    let _ = edge::parsers::query_pairs(query);
    let _ = edge::parsers::presign_limits(query);
    let _ = edge::parsers::refusal(&method, &map, query);
    let _ = edge::parsers::is_anonymous(&map, query);
    let _ = edge::parsers::range_is_signed(&map);
});
