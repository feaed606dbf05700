//! Control documents (DeleteObjects, CompleteMultipartUpload, bucket CORS):
//! the edge's streaming DOCTYPE/ENTITY guard, fed in arbitrary pieces, must
//! agree with a scan of the whole document (a declaration split across two
//! TCP segments is still a declaration); and s3s's deserialisers, which
//! read what gets past the guard, must not panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use s3s::dto::{CORSConfiguration, CompletedMultipartUpload, Delete};
use s3s::xml::{Deserialize, Deserializer};

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (document, cuts) = input;
    let pieces = tessera_fuzz::split(&document, &cuts);
    let whole = edge::parsers::xml_declares(&document);
    let streamed = edge::parsers::xml_declares_streamed(pieces.iter().copied());
    assert_eq!(whole, streamed, "split into {} pieces", pieces.len());

    parse::<Delete>(&document);
    parse::<CompletedMultipartUpload>(&document);
    parse::<CORSConfiguration>(&document);
});

/// What s3s does with a request body (`http::de::deserialize_xml`).
fn parse<T: for<'xml> Deserialize<'xml>>(document: &[u8]) {
    let mut d = Deserializer::new(document);
    if T::deserialize(&mut d).is_ok() {
        let _ = d.expect_eof();
    }
}
