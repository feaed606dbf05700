//! Public doors to the edge's parsers of hostile input, for the fuzz targets
//! in `fuzz/`. The fuzzers must drive the very code the server runs, yet the
//! modules stay private so that nothing else grows to depend on them; each
//! door is a thin call into its module and adds no behaviour.

use http::{HeaderMap, HeaderValue, Method};
use s3s::S3Error;

use crate::{final_chunk, if_range, presign_limits, query, refusals, xml_guard};

/// Runs the aws-chunked framing watcher over a body arriving in `pieces`:
/// whether a body ending there is cut short, and the watcher's final state
/// (its `Debug` form, so a caller can compare two runs).
pub fn aws_chunked_framing<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> (bool, String) {
    let mut framing = final_chunk::Framing::default();
    for piece in pieces {
        framing.feed(piece);
    }
    (framing.cut_short(), format!("{framing:?}"))
}

/// Whether a whole control document declares a document type or an entity.
pub fn xml_declares(document: &[u8]) -> bool {
    xml_guard::declares(document)
}

/// Whether the streaming declaration guard trips on a document arriving in
/// `pieces`, as it would on the request body.
pub fn xml_declares_streamed<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> bool {
    let (mut guard, _) = xml_guard::DeclarationGuard::new(());
    pieces
        .into_iter()
        .any(|piece| guard.sees_declaration(piece))
}

/// The decoded name/value pairs of a query string.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query::pairs(query)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// The presigned-URL limits checked before authentication.
pub fn presign_limits(query: Option<&str>) -> Result<(), S3Error> {
    presign_limits::check(query)
}

/// The refusals made from a request's head before authentication.
pub fn refusal(method: &Method, headers: &HeaderMap, query: Option<&str>) -> Option<S3Error> {
    refusals::refuse(method, headers, query)
}

/// Whether a request counts as anonymous.
pub fn is_anonymous(headers: &HeaderMap, query: Option<&str>) -> bool {
    refusals::is_anonymous(headers, query)
}

/// What an `If-Range` value asks for: `"strong"` (an entity tag), `"date"`
/// or `"never"` (a weak tag or garbage).
pub fn if_range_validator(value: &HeaderValue) -> &'static str {
    if_range::validator_kind(value)
}

/// Whether a header-signed request's signature covers `Range`.
pub fn range_is_signed(headers: &HeaderMap) -> bool {
    if_range::range_is_signed(headers)
}
