//! The errors the front answers itself, before any operation runs: one enum, one doc comment
//! per variant, and one place ([`From`] into [`S3Error`]) that gives each its S3 code, HTTP
//! status and message as S3 words them
//! ([Error responses](https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html),
//! [CORS](https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html)).

use s3s::{S3Error, S3ErrorCode};

/// A request the front refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontError {
    /// An access key the front does not know: `403 InvalidAccessKeyId` (s3s's `SimpleAuth`
    /// would answer `NotSignedUp`).
    #[error("The AWS Access Key Id you provided does not exist in our records.")]
    UnknownAccessKey,
    /// An unsigned request where anonymous access is off: `403 AccessDenied`.
    #[error("Signature is required")]
    SignatureRequired,
    /// An unsigned request for an operation the bucket's `anonymous` property does not open
    /// (a write to an `anonymous=read` bucket, a bucket without the property, ListBuckets):
    /// `403 AccessDenied`, as S3 answers anonymous callers a bucket policy does not allow.
    #[error("Access Denied")]
    AnonymousDenied,
    /// A signed request whose user holds no grant covering the operation on its bucket (or,
    /// for an operation that names no bucket, on every bucket): `403 AccessDenied`, as S3
    /// answers a request no policy allows.
    #[error("Access Denied")]
    AccessDenied,
    /// A change to a bucket with `read_only=true`, by any caller: `403 AccessDenied`.
    #[error("Access Denied: bucket {0} is read-only")]
    ReadOnlyBucket(String),
    /// A method S3 has no operation for (`PATCH`, `TRACE`, ...): `405 MethodNotAllowed` (s3s
    /// alone answers `501 NotImplemented`).
    #[error("The specified method ({0}) is not allowed against this resource.")]
    MethodNotAllowed(http::Method),
    /// A preflight without `Origin` (or without a bucket): `400 BadRequest`.
    #[error("Insufficient information. Origin request header needed.")]
    PreflightWithoutOrigin,
    /// A preflight without `Access-Control-Request-Method`: `400 BadRequest`.
    #[error("Insufficient information. Access-Control-Request-Method request header needed.")]
    PreflightWithoutMethod,
    /// A preflight on a bucket without CORS rules: `403 AccessForbidden`.
    #[error("CORSResponse: CORS is not enabled for this bucket.")]
    CorsNotEnabled,
    /// A preflight on a bucket that does not exist: `403 AccessForbidden`.
    #[error("CORSResponse: Bucket not found")]
    CorsBucketNotFound,
    /// A preflight no rule of the bucket allows: `403 AccessForbidden` (S3's message, typo
    /// included).
    #[error(
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution \
         of Origin, request method / Access-Control-Request-Method or \
         Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
    )]
    CorsNotAllowed,
    /// A preflight on a bucket whose CORS rules could not be read a moment ago (kept for the
    /// rules' cache period): `503 ServiceUnavailable`.
    #[error("The CORS configuration of this bucket cannot be read now.")]
    CorsRulesUnavailable,
    /// A POST form upload that does not fit in the memory POST forms share
    /// (`post_object_memory_bytes`): `503 SlowDown`.
    #[error("Please reduce your request rate.")]
    PostFormsBusy,
    /// Any error answered to an anonymous caller (let in by `allow_anonymous`): the S3 code and
    /// HTTP status of the error it met, with a generic message. The detailed message (it may
    /// name profiles, internal endpoints, file paths or OS errors) is for signed callers and
    /// the log.
    #[error("{}", if *status == http::StatusCode::FORBIDDEN { "Access Denied" } else { "The request could not be completed." })]
    Redacted {
        code: String,
        status: http::StatusCode,
    },
    /// A POST form that names its credentials (`AWSAccessKeyId`, `x-amz-credential`,
    /// `policy`) but carries no signature field (the one named): `400 InvalidArgument`.
    #[error(
        "Bucket POST must contain a field named '{0}'.  If it is specified, please check the order of the fields."
    )]
    FormUnsigned(&'static str),
    /// A POST form whose policy's `expiration` is no ISO 8601 UTC date-time: `400
    /// InvalidPolicyDocument`.
    #[error("Invalid Policy: Invalid 'expiration' value: '{0}'")]
    PolicyExpiration(String),
    /// A `Content-MD5` header without a value: `400 InvalidDigest`.
    #[error("The Content-MD5 you specified was invalid.")]
    InvalidDigest,
    /// A request body s3s read whole and failed to (it ended before its `Content-Length`, its
    /// aws-chunked framing broke, or it did not match its signed hash or chunk signatures):
    /// `400 IncompleteBody` (s3s alone answers `500 InternalError`).
    #[error(
        "The request body could not be read: it is shorter than declared, or its framing, \
         payload hash or chunk signatures do not match the request."
    )]
    UnreadableBody,
    /// The front's unauthenticated inner service failed (a bug, never a client's fault): `500
    /// InternalError`.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<FrontError> for S3Error {
    fn from(e: FrontError) -> Self {
        use http::StatusCode as S;
        let (code, status) = match &e {
            FrontError::UnknownAccessKey => (S3ErrorCode::InvalidAccessKeyId, S::FORBIDDEN),
            FrontError::SignatureRequired
            | FrontError::AnonymousDenied
            | FrontError::AccessDenied
            | FrontError::ReadOnlyBucket(_) => (S3ErrorCode::AccessDenied, S::FORBIDDEN),
            FrontError::MethodNotAllowed(_) => {
                (S3ErrorCode::MethodNotAllowed, S::METHOD_NOT_ALLOWED)
            }
            FrontError::PreflightWithoutOrigin | FrontError::PreflightWithoutMethod => {
                (S3ErrorCode::Custom("BadRequest".into()), S::BAD_REQUEST)
            }
            FrontError::CorsNotEnabled
            | FrontError::CorsBucketNotFound
            | FrontError::CorsNotAllowed => {
                (S3ErrorCode::Custom("AccessForbidden".into()), S::FORBIDDEN)
            }
            FrontError::InvalidDigest => (S3ErrorCode::InvalidDigest, S::BAD_REQUEST),
            FrontError::FormUnsigned(_) => (S3ErrorCode::InvalidArgument, S::BAD_REQUEST),
            FrontError::PolicyExpiration(_) => (S3ErrorCode::InvalidPolicyDocument, S::BAD_REQUEST),
            FrontError::UnreadableBody => (S3ErrorCode::IncompleteBody, S::BAD_REQUEST),
            FrontError::Internal(_) => (S3ErrorCode::InternalError, S::INTERNAL_SERVER_ERROR),
            FrontError::PostFormsBusy => (S3ErrorCode::SlowDown, S::SERVICE_UNAVAILABLE),
            FrontError::CorsRulesUnavailable => {
                (S3ErrorCode::ServiceUnavailable, S::SERVICE_UNAVAILABLE)
            }
            FrontError::Redacted { code, status } => (
                S3ErrorCode::from_bytes(code.as_bytes())
                    .unwrap_or_else(|| S3ErrorCode::Custom(code.clone().into())),
                *status,
            ),
        };
        let mut err = S3Error::with_message(code, e.to_string());
        err.set_status_code(status);
        err
    }
}
