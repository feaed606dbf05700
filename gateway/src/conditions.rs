//! Conditional reads (RFC 9110 section 13, as S3 applies them): `If-Match` and
//! `If-Unmodified-Since` fail with `412 PreconditionFailed`; `If-None-Match` and
//! `If-Modified-Since` answer `304 Not Modified`. They are decided from the
//! metadata record alone, so a revalidation never reads a shard.

use http::{HeaderMap, HeaderValue};
use metadata::model::ObjectMeta;
use s3s::dto::{ETagCondition, Timestamp};
use s3s::{S3Error, S3ErrorCode};

/// The preconditions a GET or HEAD carries.
pub struct ReadConditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

fn etag_matches(condition: &ETagCondition, meta: &ObjectMeta) -> bool {
    match condition.as_etag() {
        None => true, // `*`: any current representation
        // A list (`"a", W/"b"`, as browsers and caches send) reaches us as
        // one value with its inner quotes: any member may match.
        Some(etag) => etag.value().split(',').any(|member| {
            let member = member.trim();
            let member = member.strip_prefix("W/").unwrap_or(member);
            member.trim_matches('"') == meta.etag
        }),
    }
}

/// HTTP dates have whole seconds: compare at that resolution.
fn modified_after(meta: &ObjectMeta, t: &Timestamp) -> bool {
    let since = time::OffsetDateTime::from(t.clone()).unix_timestamp();
    meta.last_modified_unix_ms.div_euclid(1000) > since
}

impl ReadConditions<'_> {
    pub fn check(&self, meta: &ObjectMeta) -> Result<(), S3Error> {
        // If-Match wins over If-Unmodified-Since; If-None-Match over
        // If-Modified-Since (RFC 9110 13.2.2).
        match self.if_match {
            Some(c) if !etag_matches(c, meta) => return Err(precondition_failed()),
            Some(_) => {}
            None => {
                if let Some(t) = self.if_unmodified_since
                    && modified_after(meta, t)
                {
                    return Err(precondition_failed());
                }
            }
        }
        match self.if_none_match {
            Some(c) if etag_matches(c, meta) => Err(not_modified(meta)),
            Some(_) => Ok(()),
            None => match self.if_modified_since {
                Some(t) if !modified_after(meta, t) => Err(not_modified(meta)),
                _ => Ok(()),
            },
        }
    }
}

fn precondition_failed() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::PreconditionFailed,
        "At least one of the preconditions you specified did not hold.",
    )
}

/// A 304 still names the representation, so caches can refresh it.
fn not_modified(meta: &ObjectMeta) -> S3Error {
    let mut e = S3Error::new(S3ErrorCode::NotModified);
    e.set_status_code(http::StatusCode::NOT_MODIFIED);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", meta.etag)) {
        headers.insert(http::header::ETAG, v);
    }
    let secs = u64::try_from(meta.last_modified_unix_ms.div_euclid(1000)).unwrap_or(0);
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    if let Ok(lm) = HeaderValue::from_str(&httpdate::fmt_http_date(at)) {
        headers.insert(http::header::LAST_MODIFIED, lm);
    }
    e.set_headers(headers);
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use metadata::ids::VersionId;
    use s3s::dto::ETag;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            bucket: "b-1".parse().unwrap(),
            key: "k".into(),
            version: VersionId::new(),
            size: 1,
            etag: "abc".into(),
            last_modified_unix_ms: 1_700_000_000_500,
            headers: Default::default(),
            user_metadata: Default::default(),
            checksums: Default::default(),
            part_sizes: Vec::new(),
            upload_id: None,
        }
    }

    fn ts(secs: i64) -> Timestamp {
        time::OffsetDateTime::from_unix_timestamp(secs)
            .unwrap()
            .into()
    }

    fn code(r: Result<(), S3Error>) -> Option<S3ErrorCode> {
        r.err().map(|e| e.code().clone())
    }

    #[test]
    fn rfc_order_and_outcomes() {
        let m = meta();
        let same = ETagCondition::ETag(ETag::Strong("abc".into()));
        let other = ETagCondition::ETag(ETag::Strong("zzz".into()));
        let none = ReadConditions {
            if_match: None,
            if_none_match: None,
            if_modified_since: None,
            if_unmodified_since: None,
        };
        assert!(none.check(&m).is_ok());
        let c = |im, inm, ims, ius| ReadConditions {
            if_match: im,
            if_none_match: inm,
            if_modified_since: ims,
            if_unmodified_since: ius,
        };
        assert_eq!(
            code(c(Some(&other), None, None, None).check(&m)),
            Some(S3ErrorCode::PreconditionFailed)
        );
        assert!(c(Some(&same), None, None, None).check(&m).is_ok());
        assert!(
            c(Some(&ETagCondition::Any), None, None, None)
                .check(&m)
                .is_ok()
        );
        assert_eq!(
            code(c(None, Some(&same), None, None).check(&m)),
            Some(S3ErrorCode::NotModified)
        );
        assert!(c(None, Some(&other), None, None).check(&m).is_ok());
        // Modified at ..000.5 s: not modified since that second, modified since the one before.
        let at = ts(1_700_000_000);
        let before = ts(1_699_999_999);
        assert_eq!(
            code(c(None, None, Some(&at), None).check(&m)),
            Some(S3ErrorCode::NotModified)
        );
        assert!(c(None, None, Some(&before), None).check(&m).is_ok());
        assert_eq!(
            code(c(None, None, None, Some(&before)).check(&m)),
            Some(S3ErrorCode::PreconditionFailed)
        );
        assert!(c(None, None, None, Some(&at)).check(&m).is_ok());
        // If-Match overrides If-Unmodified-Since; If-None-Match overrides If-Modified-Since.
        assert!(c(Some(&same), None, None, Some(&before)).check(&m).is_ok());
        assert!(c(None, Some(&other), Some(&at), None).check(&m).is_ok());
    }

    #[test]
    fn entity_tag_lists_match_any_member() {
        let m = meta();
        let list: ETagCondition = "\"zzz\", W/\"abc\"".parse().expect("a list parses");
        let c = ReadConditions {
            if_match: None,
            if_none_match: Some(&list),
            if_modified_since: None,
            if_unmodified_since: None,
        };
        assert_eq!(code(c.check(&m)), Some(S3ErrorCode::NotModified));
        let others: ETagCondition = "\"zzz\", \"yyy\"".parse().expect("a list parses");
        let c = ReadConditions {
            if_none_match: Some(&others),
            ..c
        };
        assert!(c.check(&m).is_ok());
    }
}
