//! The client's upload body on its way upstream. Two things can go wrong with it that are the
//! client's fault, not the upstream's, and must be answered as such:
//! - a trailing checksum (`x-amz-trailer: x-amz-checksum-crc32`, known only after the last
//!   byte of an aws-chunked body) that does not match: s3s checks chunk signatures but not that
//!   checksum, so it is computed here while the bytes stream through, and a mismatch fails the
//!   body before its end — the upstream never completes the write — and answers `400 BadDigest`;
//! - a body s3s refuses while it streams (bad chunk signature, wrong payload hash, short body):
//!   the upstream call then fails too, but the answer is the client error, not a 503.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use s3s::checksum::ChecksumHasher;
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, TrailingHeaders};

use super::error::GatewayError;
use crate::s3s_errors::BodyFailure;

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

/// Watches `body` on its way upstream: verifies its trailing checksum when the request
/// announced one, and records a failure of the client's body for the answer.
pub fn watch_body(
    body: Option<StreamingBlob>,
    headers: &http::HeaderMap,
    trailers: Option<TrailingHeaders>,
) -> (Option<StreamingBlob>, Verdict) {
    let verdict = Verdict::default();
    let Some(body) = body else {
        return (None, verdict);
    };
    let announced = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok());
    let trailer = match (trailers, announced.and_then(|h| Some((h, hasher_for(h)?)))) {
        (Some(trailers), Some((header, (hasher, algorithm)))) => Some(Trailer {
            hasher: Some(hasher),
            header: header.trim().to_ascii_lowercase(),
            algorithm,
            trailers,
        }),
        _ => None,
    };
    let expected = body.remaining_length().exact().map(|n| n as u64);
    let checked = Checked {
        inner: body,
        trailer,
        verdict: verdict.clone(),
        expected,
        seen: 0,
        held: None,
    };
    (Some(StreamingBlob::new(checked)), verdict)
}

/// A trailing checksum being computed.
struct Trailer {
    hasher: Option<ChecksumHasher>,
    header: String,
    algorithm: &'static str,
    trailers: TrailingHeaders,
}

struct Checked {
    inner: StreamingBlob,
    trailer: Option<Trailer>,
    verdict: Verdict,
    /// The length the request declared, and how much of it came.
    expected: Option<u64>,
    seen: u64,
    /// The last chunk, held back until the trailer is checked: the upstream client stops
    /// reading at the declared length, so the trailer must be read before that last chunk goes.
    held: Option<Bytes>,
}

/// The answer for a client body that s3s refused while it streamed.
fn client_body_error(e: &StdError) -> GatewayError {
    match BodyFailure::of(e.as_ref()) {
        BodyFailure::ChunkSignature => GatewayError::ChunkSignature,
        BodyFailure::PayloadHash => GatewayError::PayloadHash,
        BodyFailure::Other(text) => {
            GatewayError::IncompleteBody(format!("The request body could not be read: {text}"))
        }
    }
}

impl Checked {
    fn fail(&self, err: GatewayError) {
        let mut slot = self.verdict.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(err.into());
    }

    /// At the end of the body: check its length, then compare with the trailer.
    fn finish(&mut self) -> Option<StdError> {
        if let Some(expected) = self.expected
            && self.seen < expected
        {
            let msg = format!(
                "The request body ended after {} of {expected} bytes.",
                self.seen
            );
            self.fail(GatewayError::IncompleteBody(msg.clone()));
            return Some(msg.into());
        }
        let t = self.trailer.as_mut()?;
        let computed = t.hasher.take()?.finalize();
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
        let sent = t
            .trailers
            .read(|h| {
                h.get(t.header.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .flatten();
        match sent {
            Some(sent) if sent.trim() == computed => None,
            // No trailer after all: nothing to check against.
            None => None,
            Some(_) => {
                let err = GatewayError::BadDigest {
                    algorithm: t.algorithm,
                };
                let msg = err.to_string();
                self.fail(err);
                Some(msg.into())
            }
        }
    }
}

impl Stream for Checked {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.seen += chunk.len() as u64;
                    if let Some(h) = this.trailer.as_mut().and_then(|t| t.hasher.as_mut()) {
                        h.update(&chunk);
                    }
                    let last = this.trailer.is_some() && this.expected == Some(this.seen);
                    if !last {
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                    // Drive the body to its end (the trailer) before letting the last chunk go.
                    if let Some(earlier) = this.held.replace(chunk) {
                        return Poll::Ready(Some(Ok(earlier)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.fail(client_body_error(&e));
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    if let Some(err) = this.finish() {
                        this.held = None;
                        return Poll::Ready(Some(Err(err)));
                    }
                    return Poll::Ready(this.held.take().map(Ok));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl ByteStream for Checked {
    fn remaining_length(&self) -> RemainingLength {
        match self.expected {
            Some(n) => RemainingLength::new_exact(
                n.saturating_sub(self.seen) as usize + self.held.as_ref().map_or(0, Bytes::len),
            ),
            None => self.inner.remaining_length(),
        }
    }
}
