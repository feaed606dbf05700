//! S3's cap on presigned URLs: a SigV4 presigned URL may be valid for at most
//! seven days (`X-Amz-Expires` up to 604800 seconds). s3s checks that a URL
//! has not expired, to the second, but not the cap, so a URL minted for a
//! year would work for a year. Refused here before the protocol layer runs.

use s3s::{S3Error, S3ErrorCode};

/// Longest validity S3 allows a SigV4 presigned URL, in seconds.
pub const MAX_PRESIGNED_EXPIRY_SECS: u64 = 604_800;

/// The error for a query whose `X-Amz-Expires` is malformed or over the cap.
pub fn check(query: Option<&str>) -> Result<(), S3Error> {
    let Some(query) = query else { return Ok(()) };
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !name.eq_ignore_ascii_case("X-Amz-Expires") {
            continue;
        }
        return match value.parse::<u64>() {
            Ok(secs) if secs <= MAX_PRESIGNED_EXPIRY_SECS => Ok(()),
            Ok(_) => Err(S3Error::with_message(
                S3ErrorCode::AuthorizationQueryParametersError,
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
            )),
            Err(_) => Err(S3Error::with_message(
                S3ErrorCode::AuthorizationQueryParametersError,
                "X-Amz-Expires should be a number",
            )),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_expiry_at_a_week() {
        assert!(check(None).is_ok());
        assert!(check(Some("list-type=2")).is_ok());
        assert!(check(Some("X-Amz-Expires=604800&X-Amz-Date=x")).is_ok());
        assert!(check(Some("a=b&X-Amz-Expires=0")).is_ok());
        for bad in [
            "X-Amz-Expires=604801",
            "X-Amz-Expires=-1",
            "X-Amz-Expires=soon",
            "X-Amz-Expires=",
        ] {
            let e = check(Some(bad)).unwrap_err();
            assert_eq!(
                e.code(),
                &S3ErrorCode::AuthorizationQueryParametersError,
                "{bad}"
            );
        }
    }
}
