//! The one adapter for s3s errors that s3s 0.14 does not expose as types. Its body-stream
//! errors (`AwsChunkedStreamError`, `UploadStreamError`) live in private modules and reach an
//! implementation only as boxed errors, and a failed POST policy condition is told from a
//! malformed policy only by its message. Until s3s exposes them, their texts are read here and
//! nowhere else; each text is quoted from s3s 0.14's source (`src/http/aws_chunked_stream.rs`,
//! `src/sig_v4/upload_stream.rs`, `src/ops/mod.rs`).

use std::error::Error;

/// Why s3s failed a client's body while it streamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyFailure {
    /// A chunk signature of an aws-chunked body did not match
    /// (`AwsChunkedStreamError::SignatureMismatch`).
    ChunkSignature,
    /// The payload's SHA-256 differed from `x-amz-content-sha256`
    /// (`UploadStreamError::Sha256Mismatch`).
    PayloadHash,
    /// Anything else (a short or unreadable body), with its message.
    Other(String),
}

impl BodyFailure {
    /// Reads a body-stream error s3s produced.
    pub fn of(e: &(dyn Error + 'static)) -> Self {
        let text = e.to_string();
        if text.contains("SignatureMismatch") {
            Self::ChunkSignature
        } else if text.contains("Sha256Mismatch") {
            Self::PayloadHash
        } else {
            Self::Other(text)
        }
    }
}

/// How s3s begins the message of the `InvalidPolicyDocument` it answers for a POST form that
/// breaks a condition of its policy (a malformed policy gets other messages).
pub const FAILED_POLICY_CONDITION: &str = "Policy condition ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_failures_are_read_from_s3s_messages() {
        let e = |s: &str| -> Box<dyn Error + Send + Sync> { s.to_owned().into() };
        assert_eq!(
            BodyFailure::of(&*e("AwsChunkedStreamError: SignatureMismatch")),
            BodyFailure::ChunkSignature
        );
        assert_eq!(
            BodyFailure::of(&*e("UploadStreamError: Sha256Mismatch")),
            BodyFailure::PayloadHash
        );
        assert_eq!(
            BodyFailure::of(&*e("connection reset")),
            BodyFailure::Other("connection reset".into())
        );
    }
}
