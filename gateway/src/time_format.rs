//! Conversions between the wire's Unix milliseconds and S3 timestamps.

use s3s::dto::Timestamp;

pub fn timestamp(unix_ms: i64) -> Timestamp {
    let nanos = i128::from(unix_ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .into()
}
