//! S3's cap on presigned URLs: a SigV4 presigned URL may be valid for at most
//! seven days (`X-Amz-Expires` up to 604800 seconds). s3s checks that a URL
//! has not expired, to the second, but not the cap, so a URL minted for a
//! year would work for a year. Refused here before the protocol layer runs,
//! reading parameter names decoded as the protocol layer does.

use s3s::{S3Error, S3ErrorCode};

/// Longest validity S3 allows a SigV4 presigned URL, in seconds.
pub const MAX_PRESIGNED_EXPIRY_SECS: u64 = 604_800;

/// The error for a query with an `X-Amz-Expires` (any of them, however
/// spelled) that is malformed or over the cap.
pub fn check(query: Option<&str>) -> Result<(), S3Error> {
    for (name, value) in crate::query::pairs(query) {
        if !name.eq_ignore_ascii_case("X-Amz-Expires") {
            continue;
        }
        match value.parse::<u64>() {
            Ok(secs) if secs <= MAX_PRESIGNED_EXPIRY_SECS => {}
            Ok(_) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::AuthorizationQueryParametersError,
                    "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                ));
            }
            Err(_) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::AuthorizationQueryParametersError,
                    "X-Amz-Expires should be a number",
                ));
            }
        }
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
            // However the name is spelled, it is the same parameter.
            "X-Amz-%45xpires=31536000",
            "x-amz-expires=31536000",
            "X%2DAmz%2DExpires=31536000",
            "X-Amz-Expires=60&X-Amz-Expires=31536000",
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
