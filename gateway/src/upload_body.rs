//! Receiving an upload's body, shared by PutObject and UploadPart: stripe it
//! as it arrives, then check what the client declared about it (length,
//! Content-MD5, additional checksums in headers or trailers). Anything that
//! fails a check is freed again before the error goes back: nothing of a
//! refused body is ever committed.

use std::collections::BTreeMap;

use metadata::ids::VersionId;
use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3ErrorCode, TrailingHeaders};

use crate::checksum::DeclaredChecksums;
use crate::error::GatewayError;
use crate::limits::UploadLength;
use crate::object::parse_content_md5;
use crate::service::Tessera;
use crate::writer::Written;

/// What a request says about the body it carries.
pub(crate) struct IncomingBody<'a> {
    pub body: Option<StreamingBlob>,
    /// The decoded length (for `aws-chunked` bodies, as s3s reports it).
    pub content_length: Option<i64>,
    pub content_md5: Option<&'a str>,
    pub declared: DeclaredChecksums,
    pub trailers: Option<TrailingHeaders>,
}

/// A body stored (not committed) and checked.
pub(crate) struct ReceivedBody {
    pub version: VersionId,
    pub written: Written,
    /// The verified additional checksums, to keep with the object or part.
    pub checksums: BTreeMap<String, String>,
}

impl Tessera {
    /// Stores and checks a body of at most `max` bytes (PutObject's or
    /// UploadPart's limit); one declared larger is refused before a byte of
    /// it is read.
    pub(crate) async fn receive_body(
        &self,
        incoming: IncomingBody<'_>,
        max: u64,
        allow_inline: bool,
    ) -> Result<ReceivedBody, S3Error> {
        let declared = match incoming.content_length {
            Some(len) => Some(u64::try_from(len).map_err(|_| {
                S3Error::with_message(S3ErrorCode::InvalidArgument, "Content-Length is negative.")
            })?),
            None => None,
        };
        let length = UploadLength::new(declared, max)?;
        let content_md5 = parse_content_md5(incoming.content_md5)?;
        let hasher = incoming.declared.hasher();
        let version = VersionId::new();
        let written = match incoming.body {
            Some(body) => {
                self.io
                    .write_object(body, length, allow_inline, hasher)
                    .await
            }
            None => {
                let empty = futures::stream::empty();
                self.io
                    .write_object(empty, length, allow_inline, hasher)
                    .await
            }
        }?;
        if let Some(expected) = content_md5
            && expected != written.md5
        {
            self.discard(&written.data);
            return Err(GatewayError::BadDigest.into());
        }
        // Trailers exist only once the body has been read to its end.
        let trailer_values = incoming.trailers.as_ref().and_then(|t| t.take());
        match incoming
            .declared
            .verify(written.checksums.as_ref(), trailer_values.as_ref())
        {
            Ok(checksums) => Ok(ReceivedBody {
                version,
                written,
                checksums,
            }),
            Err(e) => {
                self.discard(&written.data);
                Err(e)
            }
        }
    }
}

/// The checksums a PutObject or UploadPart request declares; both inputs
/// carry the same five fields.
macro_rules! declared_checksums {
    ($req:expr) => {
        $crate::checksum::DeclaredChecksums::new(
            &$req.headers,
            s3s::dto::Checksum {
                checksum_crc32: $req.input.checksum_crc32.clone(),
                checksum_crc32c: $req.input.checksum_crc32c.clone(),
                checksum_crc64nvme: $req.input.checksum_crc64nvme.clone(),
                checksum_sha1: $req.input.checksum_sha1.clone(),
                checksum_sha256: $req.input.checksum_sha256.clone(),
                checksum_type: None,
            },
            $req.input.checksum_algorithm.as_ref(),
        )
    };
}
pub(crate) use declared_checksums;
