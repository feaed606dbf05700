//! Virtual-hosted-style addressing: `bucket.s3.example.com/key` as well as
//! path style `s3.example.com/bucket/key`. The operator names the domains
//! the store answers for; a Host that is one of them is path style, a
//! subdomain of one names the bucket, and anything else (an IP address,
//! `localhost`, another name) is path style. Unlike s3s's own parsers, an
//! unknown host is never taken for a bucket, so an endpoint reached by
//! address or an unexpected name keeps working.

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

#[derive(Debug, Clone, Default)]
pub struct VirtualHostDomains {
    /// Lowercase, without a port.
    domains: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid virtual-host domain {0:?}: expected a DNS name such as s3.example.com")]
pub struct DomainError(String);

impl VirtualHostDomains {
    pub fn new(domains: &[String]) -> Result<Self, DomainError> {
        let mut out = Vec::new();
        for d in domains {
            let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
            let valid = !d.is_empty()
                && d.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !valid {
                return Err(DomainError(d));
            }
            out.push(d);
        }
        Ok(VirtualHostDomains { domains: out })
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// The bucket a `Host` header names, if it is a subdomain of one of ours.
    pub fn bucket_of_host<'a>(&self, host: &'a str) -> Option<&'a str> {
        let name = strip_port(host);
        self.domains.iter().find_map(|d| {
            let bucket = name.strip_suffix(d.as_str())?.strip_suffix('.')?;
            (!bucket.is_empty()).then_some(bucket)
        })
    }

    /// The bucket a request addresses: from the host when virtual-hosted,
    /// else the first path segment. `None` for the service root.
    pub fn bucket_of<'a>(&self, host: Option<&'a str>, path: &'a str) -> Option<&'a str> {
        if let Some(bucket) = host.and_then(|h| self.bucket_of_host(h)) {
            return Some(bucket);
        }
        let first = path.trim_start_matches('/').split('/').next()?;
        (!first.is_empty()).then_some(first)
    }
}

/// `host:port` to `host`; IPv6 literals (`[::1]:9000`) keep their brackets.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..=h.len()]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

impl S3Host for VirtualHostDomains {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match self.bucket_of_host(host) {
            Some(bucket) => VirtualHost::new(host).with_bucket(bucket),
            None => VirtualHost::new(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> VirtualHostDomains {
        VirtualHostDomains::new(&["s3.example.com".into(), "S3.Local.".into()]).unwrap()
    }

    #[test]
    fn subdomains_name_buckets_and_everything_else_is_path_style() {
        let d = domains();
        assert_eq!(d.bucket_of_host("media.s3.example.com"), Some("media"));
        assert_eq!(d.bucket_of_host("media.s3.example.com:9000"), Some("media"));
        assert_eq!(d.bucket_of_host("a.b.s3.local"), Some("a.b"));
        assert_eq!(d.bucket_of_host("s3.example.com"), None);
        assert_eq!(d.bucket_of_host("evils3.example.com"), None);
        assert_eq!(d.bucket_of_host("127.0.0.1:9000"), None);
        assert_eq!(d.bucket_of_host("localhost"), None);
        assert_eq!(d.bucket_of_host("[::1]:9000"), None);

        assert_eq!(
            d.bucket_of(Some("media.s3.example.com"), "/clip.mp4"),
            Some("media")
        );
        assert_eq!(
            d.bucket_of(Some("127.0.0.1:9000"), "/media/clip.mp4"),
            Some("media")
        );
        assert_eq!(d.bucket_of(None, "/"), None);
    }

    #[test]
    fn domains_are_checked() {
        assert!(VirtualHostDomains::new(&["".into()]).is_err());
        assert!(VirtualHostDomains::new(&["a..b".into()]).is_err());
        assert!(VirtualHostDomains::new(&["s3.example.com:9000".into()]).is_err());
        assert!(VirtualHostDomains::new(&[]).unwrap().is_empty());
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("a.b:1"), "a.b");
        assert_eq!(strip_port("a.b"), "a.b");
        assert_eq!(strip_port("[::1]:9000"), "[::1]");
    }
}
