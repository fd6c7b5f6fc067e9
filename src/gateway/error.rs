//! The errors the gateway itself answers a client with (before or instead of asking an
//! upstream): one enum, one doc comment per variant, and one place ([`From`] into
//! [`S3Error`]) that gives each its S3 code, HTTP status and message, as S3 words them
//! ([Error responses](https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html)).
//! Upstream failures have their own enum (`upstream::error`).

use s3s::{S3Error, S3ErrorCode};

/// S3's limit on a single PutObject and on one part of a multipart upload.
pub const MAX_UPLOAD_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// A request the gateway refuses, or a client body that failed on its way upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// A body declares more than [`MAX_UPLOAD_SIZE`]: `400 EntityTooLarge`, before a byte of
    /// it is read.
    #[error(
        "Your proposed upload ({size} bytes) exceeds the maximum allowed size of {MAX_UPLOAD_SIZE} bytes."
    )]
    EntityTooLarge { size: u64 },
    /// ListBuckets' `max-buckets` outside 1..=10000: `400 InvalidArgument`.
    #[error("Argument max-buckets must be an integer between 1 and 10000.")]
    InvalidMaxBuckets,
    /// A copy source named by an access point or outpost ARN: `501 NotImplemented`.
    #[error("copy sources given as access point or outpost ARNs are not supported")]
    CopySourceArn,
    /// An unreadable `x-amz-copy-source-range`: `400 InvalidArgument`.
    #[error("invalid x-amz-copy-source-range {0:?}")]
    InvalidCopySourceRange(String),
    /// A copy whose source conditions (`x-amz-copy-source-if-*`) did not hold: S3 answers
    /// `412 PreconditionFailed` whichever condition it was.
    #[error("At least one of the pre-conditions you specified did not hold")]
    CopySourcePrecondition,
    /// The trailing checksum of an upload does not match its bytes: `400 BadDigest`.
    #[error("The {algorithm} you specified did not match the calculated checksum.")]
    BadDigest { algorithm: &'static str },
    /// A chunk signature of an aws-chunked body does not match: `403 SignatureDoesNotMatch`.
    #[error("The chunk signature of the request body does not match.")]
    ChunkSignature,
    /// The body's SHA-256 differs from its `x-amz-content-sha256`: `400
    /// XAmzContentSHA256Mismatch`.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    PayloadHash,
    /// The body ended before its declared length, or could not be read: `400 IncompleteBody`.
    #[error("{0}")]
    IncompleteBody(String),
    /// A bucket that is not registered, asked for where discovery must not start (a
    /// preflight's CORS rules): `404 NoSuchBucket`.
    #[error("The specified bucket does not exist")]
    NotRegistered,
}

impl GatewayError {
    fn code_and_status(&self) -> (S3ErrorCode, http::StatusCode) {
        use http::StatusCode as S;
        match self {
            Self::EntityTooLarge { .. } => (S3ErrorCode::EntityTooLarge, S::BAD_REQUEST),
            Self::InvalidMaxBuckets | Self::InvalidCopySourceRange(_) => {
                (S3ErrorCode::InvalidArgument, S::BAD_REQUEST)
            }
            Self::CopySourceArn => (S3ErrorCode::NotImplemented, S::NOT_IMPLEMENTED),
            Self::CopySourcePrecondition => {
                (S3ErrorCode::PreconditionFailed, S::PRECONDITION_FAILED)
            }
            Self::BadDigest { .. } => (S3ErrorCode::BadDigest, S::BAD_REQUEST),
            Self::ChunkSignature => (S3ErrorCode::SignatureDoesNotMatch, S::FORBIDDEN),
            Self::PayloadHash => (
                S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
                S::BAD_REQUEST,
            ),
            Self::IncompleteBody(_) => (S3ErrorCode::IncompleteBody, S::BAD_REQUEST),
            Self::NotRegistered => (S3ErrorCode::NoSuchBucket, S::NOT_FOUND),
        }
    }
}

impl From<GatewayError> for S3Error {
    fn from(e: GatewayError) -> Self {
        let (code, status) = e.code_and_status();
        let mut err = S3Error::with_message(code, e.to_string());
        err.set_status_code(status);
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_the_code_and_status_s3_answers() {
        let s3 = |e: GatewayError| {
            let e = S3Error::from(e);
            (
                e.code().as_str().to_owned(),
                e.status_code().unwrap().as_u16(),
            )
        };
        let too_large = GatewayError::EntityTooLarge {
            size: MAX_UPLOAD_SIZE + 1,
        };
        assert_eq!(s3(too_large), ("EntityTooLarge".into(), 400));
        assert_eq!(
            s3(GatewayError::CopySourcePrecondition),
            ("PreconditionFailed".into(), 412)
        );
        assert_eq!(
            s3(GatewayError::ChunkSignature),
            ("SignatureDoesNotMatch".into(), 403)
        );
        assert_eq!(
            s3(GatewayError::PayloadHash),
            ("XAmzContentSHA256Mismatch".into(), 400)
        );
        assert_eq!(
            s3(GatewayError::CopySourceArn),
            ("NotImplemented".into(), 501)
        );
    }
}
