//! CORS at the edge: preflight `OPTIONS` answered from the bucket's
//! configuration before any signature check (browsers send preflights
//! without credentials), and the allow headers added to the responses of
//! actual cross-origin requests, errors included, as S3 does.

use gateway::BucketSettings;
use gateway::cors::{allow_headers, matching_rule, requested_headers};
use gateway::virtual_host::VirtualHostDomains;
use http::header::{
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, CONTENT_TYPE, HOST, ORIGIN,
};
use http::{HeaderMap, Method, StatusCode, Uri};
use s3s::HttpResponse;

/// The bucket a request addresses, by Host (virtual-hosted) or path.
fn bucket_of<'a>(
    hosts: &VirtualHostDomains,
    headers: &'a HeaderMap,
    uri: &'a Uri,
) -> Option<&'a str> {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    hosts.bucket_of(host, uri.path())
}

fn refusal(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut resp = HttpResponse::new(s3s::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    resp
}

/// Answers a preflight: 200 with the allow headers when a rule of the
/// bucket's configuration allows the origin, method and headers asked for;
/// otherwise 403, as S3 answers (400 when the request is not a preflight).
pub async fn preflight(
    buckets: &BucketSettings,
    hosts: &VirtualHostDomains,
    headers: &HeaderMap,
    uri: &Uri,
) -> HttpResponse {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
    };
    let (Some(origin), Some(method)) = (header(ORIGIN), header(ACCESS_CONTROL_REQUEST_METHOD))
    else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
        );
    };
    let config = match bucket_of(hosts, headers, uri) {
        Some(bucket) => buckets.cors(bucket).await,
        None => None,
    };
    let Some(config) = config else {
        return refusal(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: CORS is not enabled for this bucket.",
        );
    };
    let asked = requested_headers(headers.get(ACCESS_CONTROL_REQUEST_HEADERS));
    match matching_rule(&config, origin, method, &asked) {
        Some(rule) => {
            let mut resp = HttpResponse::new(s3s::Body::empty());
            *resp.headers_mut() = allow_headers(rule, origin, &asked);
            resp
        }
        None => refusal(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        ),
    }
}

/// What an actual request needs to get CORS headers on its response.
pub struct CorsContext {
    origin: String,
    method: Method,
    bucket: String,
}

impl CorsContext {
    /// `None` unless the request is cross-origin and addresses a bucket.
    pub fn of(
        hosts: &VirtualHostDomains,
        method: &Method,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Option<Self> {
        let origin = headers.get(ORIGIN)?.to_str().ok()?.to_owned();
        let bucket = bucket_of(hosts, headers, uri)?.to_owned();
        Some(CorsContext {
            origin,
            method: method.clone(),
            bucket,
        })
    }

    /// Adds the allow headers of the first rule allowing this origin and
    /// method; nothing when none does.
    pub async fn decorate(&self, buckets: &BucketSettings, resp: &mut HttpResponse) {
        let Some(config) = buckets.cors(&self.bucket).await else {
            return;
        };
        if let Some(rule) = matching_rule(&config, &self.origin, self.method.as_str(), &[]) {
            for (name, value) in &allow_headers(rule, &self.origin, &[]) {
                resp.headers_mut().insert(name.clone(), value.clone());
            }
        }
    }
}
