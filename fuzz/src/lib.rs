//! Helpers shared by the fuzz targets.

/// `body` cut into consecutive pieces whose lengths come from `cuts`, the
/// rest as the last piece. Zero-length pieces are kept: a peer may send an
/// empty data frame, and the parsers must take it in their stride.
pub fn split<'a>(body: &'a [u8], cuts: &[u8]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    let mut rest = body;
    for &c in cuts {
        let n = usize::from(c).min(rest.len());
        let (head, tail) = rest.split_at(n);
        pieces.push(head);
        rest = tail;
    }
    pieces.push(rest);
    pieces
}
