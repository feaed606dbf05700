//! A raw SigV4 requester for what the SDK will not send: requests dated by
//! the `Date` header instead of `x-amz-date`, payload hashes that differ from
//! the body, skewed clocks, hand-made presigned URLs, and the seed signature
//! that `aws-chunked` bodies (`raw_chunked`) continue from. Paths and queries
//! are passed already URI-encoded.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

pub struct Signer<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub region: &'a str,
}

/// How the request carries its timestamp.
pub enum Dated {
    AmzDate,
    DateHeader,
}

pub fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `now` in the ISO 8601 basic form of `x-amz-date`.
pub fn amz_date(now: time::OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// The canonical form of an (already URI-encoded) query string: pairs sorted,
/// a bare name given an empty value (`delete` becomes `delete=`).
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical URI of a path as S3 computes it: the path decoded, then
/// every byte but the unreserved ones and `/` percent-encoded (upper case).
/// So `/b/..%2fk` and `/b/../k` sign alike.
pub fn canonical_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(b) => {
                decoded.push(b);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    decoded
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A signed request: the headers to send, and what the signatures of an
/// `aws-chunked` body chain from (the seed signature, date, scope and key).
pub struct Signed {
    pub headers: Vec<(String, String)>,
    pub signature: String,
    pub amz_date: String,
    pub scope: String,
    pub key: Vec<u8>,
}

impl Signer<'_> {
    fn scope_and_key(&self, day: &str) -> (String, Vec<u8>) {
        let mut key = hmac(
            format!("AWS4{}", self.secret_key).as_bytes(),
            day.as_bytes(),
        );
        for part in [self.region, "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        (format!("{day}/{}/s3/aws4_request", self.region), key)
    }

    /// The headers to send with `method` on `host` + `path`: `host`,
    /// `x-amz-content-sha256` (`UNSIGNED-PAYLOAD`), the timestamp header and
    /// `authorization`.
    pub fn sign(
        &self,
        method: &str,
        host: &str,
        path: &str,
        now: time::OffsetDateTime,
        dated: Dated,
    ) -> Vec<(String, String)> {
        let date = match dated {
            Dated::AmzDate => ("x-amz-date".to_owned(), amz_date(now)),
            Dated::DateHeader => (
                "date".to_owned(),
                now.format(&time::format_description::well_known::Rfc2822)
                    .expect("format")
                    .replace("+0000", "GMT"),
            ),
        };
        self.sign_headers(method, host, path, "", vec![date], "UNSIGNED-PAYLOAD", now)
            .headers
    }

    /// Signs `method` on `host` + `path` + `?query`, dated `now` by
    /// `x-amz-date`, with `payload` as `x-amz-content-sha256` (a hex SHA-256,
    /// `UNSIGNED-PAYLOAD` or a `STREAMING-*` value) and `extra` headers (names
    /// in lower case), all of them signed.
    #[allow(clippy::too_many_arguments)]
    pub fn sign_request(
        &self,
        method: &str,
        host: &str,
        path: &str,
        query: &str,
        extra: Vec<(String, String)>,
        payload: &str,
        now: time::OffsetDateTime,
    ) -> Signed {
        let mut headers = extra;
        headers.push(("x-amz-date".to_owned(), amz_date(now)));
        self.sign_headers(method, host, path, query, headers, payload, now)
    }

    #[allow(clippy::too_many_arguments)]
    fn sign_headers(
        &self,
        method: &str,
        host: &str,
        path: &str,
        query: &str,
        mut headers: Vec<(String, String)>,
        payload: &str,
        now: time::OffsetDateTime,
    ) -> Signed {
        let amz = amz_date(now);
        headers.push(("host".to_owned(), host.to_owned()));
        headers.push(("x-amz-content-sha256".to_owned(), payload.to_owned()));
        headers.sort();
        let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        let signed = signed.join(";");
        let canonical_headers: String = headers
            .iter()
            .map(|(k, v)| format!("{k}:{}\n", v.trim()))
            .collect();
        let canonical = format!(
            "{method}\n{}\n{}\n{canonical_headers}\n{signed}\n{payload}",
            canonical_path(path),
            canonical_query(query)
        );
        let (scope, key) = self.scope_and_key(&amz[..8]);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz}\n{scope}\n{}",
            sha256_hex(canonical.as_bytes())
        );
        let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
        headers.push((
            "authorization".to_owned(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                self.access_key
            ),
        ));
        Signed {
            headers,
            signature,
            amz_date: amz,
            scope,
            key,
        }
    }

    /// A presigned URL path (`path?X-Amz-...`) for `method` on `path`, signed
    /// at `now` and valid for `expires` seconds from then.
    pub fn presign(
        &self,
        method: &str,
        host: &str,
        path: &str,
        now: time::OffsetDateTime,
        expires: u32,
    ) -> String {
        let amz = amz_date(now);
        let (scope, key) = self.scope_and_key(&amz[..8]);
        let query = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}%2F{}&X-Amz-Date={amz}\
             &X-Amz-Expires={expires}&X-Amz-SignedHeaders=host",
            self.access_key,
            scope.replace('/', "%2F")
        );
        let canonical = format!(
            "{method}\n{}\n{}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
            canonical_path(path),
            canonical_query(&query)
        );
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz}\n{scope}\n{}",
            sha256_hex(canonical.as_bytes())
        );
        let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
        format!("{path}?{query}&X-Amz-Signature={signature}")
    }
}

impl Signer<'static> {
    /// The test cluster's credentials.
    pub fn for_tests() -> Self {
        Signer {
            access_key: crate::harness::ACCESS_KEY,
            secret_key: crate::harness::SECRET_KEY,
            region: "us-east-1",
        }
    }
}

/// An answer read whole.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    /// The S3 error code in the XML body, if any.
    pub fn code(&self) -> Option<&str> {
        let start = self.body.find("<Code>")? + "<Code>".len();
        let end = self.body[start..].find("</Code>")? + start;
        Some(&self.body[start..end])
    }

    /// The error message in the XML body, if any.
    pub fn message(&self) -> Option<&str> {
        let start = self.body.find("<Message>")? + "<Message>".len();
        let end = self.body[start..].find("</Message>")? + start;
        Some(&self.body[start..end])
    }

    /// Asserts the status and S3 error code together, showing the body when
    /// they differ.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, Some(code)),
            "body: {}",
            self.body
        );
    }
}

/// Sends `method endpoint + path_and_query` with `headers` (signed ones and
/// any others) and `body`; `host` and `content-length` come from the URL and
/// the body, as the signer assumed.
pub async fn send(
    http: &reqwest::Client,
    endpoint: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = http
        .request(method, format!("{endpoint}{path_and_query}"))
        .body(body);
    for (k, v) in headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let resp = tokio::time::timeout(std::time::Duration::from_secs(60), req.send())
        .await
        .expect("the server answers within a minute")
        .expect("request to the test cluster");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

/// The `host:port` a request to `endpoint` carries in `Host`.
pub fn host_of(endpoint: &str) -> String {
    endpoint.trim_start_matches("http://").to_owned()
}

/// Sends `GET endpoint + path` with signed `headers` (`host` comes from the
/// URL, as the signer computed it).
pub async fn send_get(
    http: &reqwest::Client,
    endpoint: &str,
    path: &str,
    headers: Vec<(String, String)>,
) -> reqwest::Response {
    let mut req = http.get(format!("{endpoint}{path}"));
    for (k, v) in headers {
        if k != "host" {
            req = req.header(k, v);
        }
    }
    req.send().await.expect("request to the test cluster")
}

/// A signing client for one cluster's S3 endpoint.
pub struct RawClient {
    pub endpoint: String,
    pub host: String,
    pub signer: Signer<'static>,
    pub http: reqwest::Client,
}

impl RawClient {
    pub fn new(endpoint: &str) -> Self {
        RawClient {
            endpoint: endpoint.to_owned(),
            host: host_of(endpoint),
            signer: Signer::for_tests(),
            http: reqwest::Client::new(),
        }
    }

    /// `method path?query` with `body`, signed now with the body's real
    /// SHA-256 and `extra` headers.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        query: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let payload = sha256_hex(body);
        self.call_signed(
            method,
            path,
            query,
            extra,
            &payload,
            time::OffsetDateTime::now_utc(),
            body,
        )
        .await
    }

    /// As `call`, with the `x-amz-content-sha256` and the signing time given.
    #[allow(clippy::too_many_arguments)]
    pub async fn call_signed(
        &self,
        method: &str,
        path: &str,
        query: &str,
        extra: &[(&str, &str)],
        payload: &str,
        now: time::OffsetDateTime,
        body: &[u8],
    ) -> Reply {
        let extra = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let signed = self
            .signer
            .sign_request(method, &self.host, path, query, extra, payload, now);
        let target = if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        };
        send(
            &self.http,
            &self.endpoint,
            method,
            &target,
            &signed.headers,
            body.to_vec(),
        )
        .await
    }
}
