//! CORS as S3 applies a bucket's configuration: which rule, if any, allows
//! a browser's request, and the headers that say so. Preflight `OPTIONS`
//! requests are answered with these before any signature check (a browser
//! sends them without credentials); actual requests get the same headers on
//! their response.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use metadata::model::{CorsConfig, CorsRule};

/// `*` matches any run of characters; at most one appears (the metadata
/// service refuses configurations with more).
fn wildcard_match(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len()
                && value.starts_with(prefix)
                && value.ends_with(suffix)
        }
    }
}

/// The first rule allowing `origin` to use `method` with the given request
/// headers (as a preflight lists them in Access-Control-Request-Headers).
pub fn matching_rule<'a>(
    config: &'a CorsConfig,
    origin: &str,
    method: &str,
    request_headers: &[String],
) -> Option<&'a CorsRule> {
    config.rules.iter().find(|rule| {
        rule.allowed_origins
            .iter()
            .any(|o| wildcard_match(o, origin))
            && rule.allowed_methods.iter().any(|m| m == method)
            && request_headers.iter().all(|h| {
                rule.allowed_headers
                    .iter()
                    .any(|a| wildcard_match(&a.to_ascii_lowercase(), &h.to_ascii_lowercase()))
            })
    })
}

/// The header names of an Access-Control-Request-Headers value.
pub fn requested_headers(value: Option<&HeaderValue>) -> Vec<String> {
    value
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn put(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// The headers S3 sends for a request `rule` allows: the origin (or `*`
/// when the rule allows any origin, then without credentials), the rule's
/// methods and exposed headers, and `Vary` so that caches keep answers for
/// different origins apart.
pub fn allow_headers(rule: &CorsRule, origin: &str, request_headers: &[String]) -> HeaderMap {
    let mut h = HeaderMap::new();
    let any_origin = rule.allowed_origins.iter().any(|o| o == "*");
    if any_origin {
        put(&mut h, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    } else {
        put(&mut h, header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        put(&mut h, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
    put(
        &mut h,
        header::ACCESS_CONTROL_ALLOW_METHODS,
        &rule.allowed_methods.join(", "),
    );
    if !request_headers.is_empty() {
        put(
            &mut h,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            &request_headers.join(", "),
        );
    }
    if !rule.expose_headers.is_empty() {
        put(
            &mut h,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            &rule.expose_headers.join(", "),
        );
    }
    if let Some(age) = rule.max_age_seconds {
        put(&mut h, header::ACCESS_CONTROL_MAX_AGE, &age.to_string());
    }
    put(
        &mut h,
        header::VARY,
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> CorsConfig {
        CorsConfig {
            rules: vec![
                CorsRule {
                    allowed_origins: vec!["https://*.example.com".into()],
                    allowed_methods: vec!["GET".into(), "PUT".into()],
                    allowed_headers: vec!["content-*".into(), "x-amz-date".into()],
                    expose_headers: vec!["ETag".into()],
                    max_age_seconds: Some(600),
                    ..CorsRule::default()
                },
                CorsRule {
                    allowed_origins: vec!["*".into()],
                    allowed_methods: vec!["GET".into(), "HEAD".into()],
                    ..CorsRule::default()
                },
            ],
        }
    }

    #[test]
    fn wildcards_match_one_run_of_characters() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match(
            "https://*.example.com",
            "https://app.example.com"
        ));
        assert!(!wildcard_match(
            "https://*.example.com",
            "https://example.com"
        ));
        assert!(!wildcard_match(
            "https://*.example.com",
            "http://app.example.com"
        ));
        assert!(wildcard_match("x-amz-*", "x-amz-meta-a"));
        assert!(!wildcard_match("ab*ba", "aba"));
    }

    #[test]
    fn the_first_rule_that_allows_everything_asked_wins() {
        let c = config();
        let headers = vec!["content-type".to_owned(), "x-amz-date".to_owned()];
        let rule = matching_rule(&c, "https://app.example.com", "PUT", &headers).unwrap();
        assert_eq!(rule.max_age_seconds, Some(600));
        // A header the rule does not allow rules it out; the catch-all has
        // no PUT.
        let other = vec!["authorization".to_owned()];
        assert!(matching_rule(&c, "https://app.example.com", "PUT", &other).is_none());
        // Any origin may GET without extra headers, by the second rule.
        let rule = matching_rule(&c, "https://evil.test", "GET", &[]).unwrap();
        assert_eq!(rule.allowed_origins, vec!["*"]);
        assert!(matching_rule(&c, "https://evil.test", "DELETE", &[]).is_none());
    }

    #[test]
    fn allow_headers_echo_a_listed_origin_with_credentials() {
        let c = config();
        let h = allow_headers(
            &c.rules[0],
            "https://app.example.com",
            &["content-type".into()],
        );
        assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-allow-methods"], "GET, PUT");
        assert_eq!(h["access-control-allow-headers"], "content-type");
        assert_eq!(h["access-control-expose-headers"], "ETag");
        assert_eq!(h["access-control-max-age"], "600");
        let h = allow_headers(&c.rules[1], "https://evil.test", &[]);
        assert_eq!(h["access-control-allow-origin"], "*");
        assert!(h.get("access-control-allow-credentials").is_none());
    }

    #[test]
    fn requested_headers_are_split_and_lowercased() {
        let v = HeaderValue::from_static("Content-Type, X-Amz-Date,,");
        assert_eq!(
            requested_headers(Some(&v)),
            vec!["content-type".to_owned(), "x-amz-date".to_owned()]
        );
        assert!(requested_headers(None).is_empty());
    }
}
