//! Every S3 request gets an id, a `tracing` span carrying it, and the id back
//! in `x-amz-request-id`, also on errors that s3s raises before our code runs
//! (bad signatures, malformed paths), so a client's report can be matched to
//! our logs.
//!
//! In front of the protocol layer, in this order and reading nothing of the
//! body: the per-address rate limit, the refusals made from a request's head
//! ([`crate::refusals`]), the presign cap, and CORS preflights. Control
//! documents are only watched as the protocol layer reads them, after the
//! signature and access checks ([`crate::xml_guard`]).

use std::time::Instant;

use std::sync::atomic::Ordering;

use http::HeaderValue;
use listener::ClientBody;
use s3s::service::S3Service;
use s3s::{HttpError, HttpRequest, HttpResponse, S3Error, S3ErrorCode};
use std::net::IpAddr;
use std::sync::Arc;

use crate::cors::CorsContext;
use crate::rate_limit::RateLimits;
use gateway::BucketSettings;
use gateway::virtual_host::VirtualHostDomains;
use tracing::Instrument;

/// A fresh request id: 16 uppercase hex digits, like S3's.
pub fn new_request_id() -> String {
    format!("{:016X}", rand::random::<u64>())
}

/// What every S3 request goes through at the edge.
pub struct Frontend {
    pub s3: S3Service,
    pub limits: Arc<RateLimits>,
    pub buckets: BucketSettings,
    pub hosts: VirtualHostDomains,
}

/// Serves one request from `client` (the peer, or the address a trusted
/// proxy named) through s3s inside its span, and stamps the id.
pub async fn handle(
    front: Arc<Frontend>,
    client: IpAddr,
    req: http::Request<ClientBody>,
) -> Result<HttpResponse, HttpError> {
    let id = new_request_id();
    let method = req.method().clone();
    let span = tracing::info_span!("s3", request_id = %id, %method, path = ?req.uri().path());
    let started = Instant::now();
    let close = req.version() < http::Version::HTTP_2
        && crate::expect_continue::expects_continue_without_body(req.headers());
    let refused = if !front.limits.allow_address(client) {
        metrics::counter!("edge_rate_limited_total", "limit" => "address").increment(1);
        Some(S3Error::with_message(
            S3ErrorCode::SlowDown,
            "Please reduce your request rate.",
        ))
    } else {
        crate::refusals::refuse(&method, req.headers(), req.uri().query())
            .or_else(|| crate::presign_limits::check(req.uri().query()).err())
    };
    let carries_xml =
        crate::xml_guard::carries_xml(&front.hosts, &method, req.headers(), req.uri());
    let refused = refused.or_else(|| {
        carries_xml
            .then(|| crate::xml_guard::check_declared_length(req.headers()).err())
            .flatten()
    });
    let streamed = req
        .headers()
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("STREAMING-"));
    let mut declared = None;
    let mut req: HttpRequest = match (streamed, carries_xml) {
        (true, false) => {
            req.map(|b| s3s::Body::http_body(crate::final_chunk::FinalChunkGuard::new(b)))
        }
        (true, true) => req.map(|b| {
            let (guard, flag) = crate::xml_guard::DeclarationGuard::new(
                crate::final_chunk::FinalChunkGuard::new(b),
            );
            declared = Some(flag);
            s3s::Body::http_body(guard)
        }),
        (false, true) => req.map(|b| {
            let (guard, flag) = crate::xml_guard::DeclarationGuard::new(b);
            declared = Some(flag);
            s3s::Body::http_body(guard)
        }),
        (false, false) => req.map(s3s::Body::http_body),
    };
    crate::date_header::fill_amz_date(req.headers_mut());
    let cors = CorsContext::of(&front.hosts, &method, req.headers(), req.uri());
    let mut resp = match refused {
        Some(e) => e
            .to_http_response()
            .map_err(|e| HttpError::new(Box::new(e)))?,
        None if method == http::Method::OPTIONS => {
            crate::cors::preflight(&front.buckets, &front.hosts, req.headers(), req.uri())
                .instrument(span.clone())
                .await
        }
        None => {
            let resp = crate::if_range::call(&front.s3, req)
                .instrument(span.clone())
                .await?;
            match declared {
                Some(flag) if flag.load(Ordering::Relaxed) => crate::xml_guard::malformed()
                    .to_http_response()
                    .map_err(|e| HttpError::new(Box::new(e)))?,
                _ => resp,
            }
        }
    };
    if let Some(cors) = &cors
        && method != http::Method::OPTIONS
    {
        cors.decorate(&front.buckets, &mut resp).await;
    }
    let status = resp.status().as_u16();
    span.in_scope(|| {
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if status >= 500 {
            tracing::warn!(status, ms, "request failed");
        } else {
            tracing::debug!(status, ms, "request done");
        }
    });
    let method_label = listener::method_label(&method);
    metrics::counter!("edge_s3_requests_total", "method" => method_label, "status" => resp.status().as_str().to_owned())
        .increment(1);
    metrics::histogram!("edge_s3_request_seconds", "method" => method_label)
        .record(started.elapsed().as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    if status >= 400 && method != http::Method::HEAD {
        resp = with_request_id_in_error(resp, &id).await;
    }
    if close {
        crate::expect_continue::close_after(resp.headers_mut());
    }
    Ok(resp)
}

/// Error bodies are small XML documents; S3 names the request in them too.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Adds `<RequestId>` to an S3 error document that lacks one.
async fn with_request_id_in_error(resp: HttpResponse, id: &str) -> HttpResponse {
    let (mut parts, mut body) = resp.into_parts();
    let bytes = match body.store_all_limited(MAX_ERROR_BODY).await {
        Ok(b) => b,
        Err(_) => return HttpResponse::from_parts(parts, s3s::Body::empty()),
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return HttpResponse::from_parts(parts, s3s::Body::from(bytes));
    };
    let Some(end) = text.rfind("</Error>") else {
        return HttpResponse::from_parts(parts, s3s::Body::from(bytes));
    };
    if text.contains("<RequestId>") {
        return HttpResponse::from_parts(parts, s3s::Body::from(bytes));
    }
    let patched = format!(
        "{}<RequestId>{id}</RequestId>{}",
        &text[..end],
        &text[end..]
    );
    parts.headers.insert(
        http::header::CONTENT_LENGTH,
        HeaderValue::from(patched.len()),
    );
    HttpResponse::from_parts(parts, s3s::Body::from(patched))
}
