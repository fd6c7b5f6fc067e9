//! Trailing checksums. A body sent as aws-chunked may carry its checksum in a trailer
//! (`x-amz-trailer: x-amz-checksum-crc32`), known only after the last byte. s3s checks the chunk
//! signatures but not that checksum, so the gateway computes it while the bytes stream through
//! and, on a mismatch, fails the body before its end: the upstream never completes the write,
//! and the client gets `400 BadDigest`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use s3s::checksum::ChecksumHasher;
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, S3ErrorCode, TrailingHeaders};

type StdError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where a checked body reports a mismatch, for the operation to answer with.
#[derive(Clone, Default)]
pub struct Verdict(Arc<Mutex<Option<S3Error>>>);

impl Verdict {
    /// The mismatch found, if any; replaces the upstream's error for the failed body.
    pub fn take(&self) -> Option<S3Error> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// The checksum a trailer announces: its header name and the algorithm's display name.
fn hasher_for(trailer: &str) -> Option<(ChecksumHasher, &'static str)> {
    let mut h = ChecksumHasher::default();
    let name = match trailer.trim().to_ascii_lowercase().as_str() {
        "x-amz-checksum-crc32" => {
            h.crc32 = Some(Default::default());
            "CRC32"
        }
        "x-amz-checksum-crc32c" => {
            h.crc32c = Some(Default::default());
            "CRC32C"
        }
        "x-amz-checksum-crc64nvme" => {
            h.crc64nvme = Some(Default::default());
            "CRC64NVME"
        }
        "x-amz-checksum-sha1" => {
            h.sha1 = Some(Default::default());
            "SHA1"
        }
        "x-amz-checksum-sha256" => {
            h.sha256 = Some(Default::default());
            "SHA256"
        }
        _ => return None,
    };
    Some((h, name))
}

/// Wraps `body` so that its trailing checksum is verified, when the request announced one.
pub fn verify_trailer(
    body: Option<StreamingBlob>,
    headers: &http::HeaderMap,
    trailers: Option<TrailingHeaders>,
) -> (Option<StreamingBlob>, Verdict) {
    let verdict = Verdict::default();
    let announced = headers
        .get("x-amz-trailer")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (Some(trailers), Some(header)) = (trailers, announced) else {
        return (body, verdict);
    };
    let Some(body) = body else {
        return (None, verdict);
    };
    let Some((hasher, algorithm)) = hasher_for(&header) else {
        return (Some(body), verdict);
    };
    let checked = Checked {
        inner: body,
        hasher: Some(hasher),
        header: header.trim().to_ascii_lowercase(),
        algorithm,
        trailers,
        verdict: verdict.clone(),
    };
    (Some(StreamingBlob::new(checked)), verdict)
}

struct Checked {
    inner: StreamingBlob,
    hasher: Option<ChecksumHasher>,
    header: String,
    algorithm: &'static str,
    trailers: TrailingHeaders,
    verdict: Verdict,
}

impl Checked {
    /// At the end of the body: compare with the trailer.
    fn finish(&mut self) -> Option<StdError> {
        let computed = self.hasher.take()?.finalize();
        let computed = [
            computed.checksum_crc32,
            computed.checksum_crc32c,
            computed.checksum_crc64nvme,
            computed.checksum_sha1,
            computed.checksum_sha256,
        ]
        .into_iter()
        .flatten()
        .next()?;
        let sent = self
            .trailers
            .read(|h| {
                h.get(self.header.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .flatten();
        match sent {
            Some(sent) if sent.trim() == computed => None,
            // No trailer after all: nothing to check against.
            None => None,
            Some(_) => {
                let msg = format!(
                    "The {} you specified did not match the calculated checksum.",
                    self.algorithm
                );
                let mut err = S3Error::with_message(S3ErrorCode::BadDigest, msg.clone());
                err.set_status_code(http::StatusCode::BAD_REQUEST);
                *self.verdict.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(err);
                Some(msg.into())
            }
        }
    }
}

impl Stream for Checked {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(h) = this.hasher.as_mut() {
                    h.update(&chunk);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => Poll::Ready(this.finish().map(Err)),
            other => other,
        }
    }
}

impl ByteStream for Checked {
    fn remaining_length(&self) -> RemainingLength {
        self.inner.remaining_length()
    }
}
