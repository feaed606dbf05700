//! A raw SigV4 requester for what the SDK will not send (here: requests dated
//! by the `Date` header instead of `x-amz-date`). Header signing only, with
//! `UNSIGNED-PAYLOAD`; paths and queries are passed already URI-encoded.

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

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

impl Signer<'_> {
    /// The headers to send with `method` on `host` + `path`: `host`,
    /// `x-amz-content-sha256`, the timestamp header and `authorization`.
    pub fn sign(
        &self,
        method: &str,
        host: &str,
        path: &str,
        now: time::OffsetDateTime,
        dated: Dated,
    ) -> Vec<(String, String)> {
        let amz = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let day = &amz[..8];
        let (date_name, date_value) = match dated {
            Dated::AmzDate => ("x-amz-date", amz.clone()),
            Dated::DateHeader => (
                "date",
                now.format(&time::format_description::well_known::Rfc2822)
                    .expect("format")
                    .replace("+0000", "GMT"),
            ),
        };
        let mut headers = vec![
            ("host".to_owned(), host.to_owned()),
            (
                "x-amz-content-sha256".to_owned(),
                "UNSIGNED-PAYLOAD".to_owned(),
            ),
            (date_name.to_owned(), date_value),
        ];
        headers.sort();
        let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        let signed = signed.join(";");
        let canonical_headers: String = headers
            .iter()
            .map(|(k, v)| format!("{k}:{}\n", v.trim()))
            .collect();
        let canonical =
            format!("{method}\n{path}\n\n{canonical_headers}\n{signed}\nUNSIGNED-PAYLOAD");
        let scope = format!("{day}/{}/s3/aws4_request", self.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac(
            format!("AWS4{}", self.secret_key).as_bytes(),
            day.as_bytes(),
        );
        for part in [self.region, "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
        headers.push((
            "authorization".to_owned(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                self.access_key
            ),
        ));
        headers
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
