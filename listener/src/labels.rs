//! Metric labels taken from requests come from closed sets: an outsider
//! inventing methods must not add series to a scrape.

use http::Method;

/// The method as a label: one of the methods this cluster serves, or
/// `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        for m in ["PATCH", "BREW", "X-INVENTED-1234"] {
            assert_eq!(method_label(&m.parse().unwrap()), "other");
        }
    }
}
