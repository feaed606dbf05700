//! The aws-chunked framing watcher (edge `final_chunk`), fed a body in
//! arbitrary pieces. A connection decides where a body is split, not the
//! client, so the verdict must not depend on it: whole and split runs must
//! end in the same state.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (body, cuts) = input;
    let pieces = tessera_fuzz::split(&body, &cuts);
    let whole = edge::parsers::aws_chunked_framing([body.as_slice()]);
    let split = edge::parsers::aws_chunked_framing(pieces.iter().copied());
    assert_eq!(whole, split, "split into {} pieces", pieces.len());
});
