//! The lean path: GetObject and HeadObject forwarded without the SDK.
//!
//! Most S3 traffic is small reads, and for them the SDK path (s3s DTO → SDK input → the SDK's
//! orchestrator → SDK output → s3s DTO) costs several times what the upstream spends serving
//! them (docs/PERFORMANCE.md has the profile). Here a read the client sent is re-addressed to
//! the bucket's upstream, signed for it and sent over the same HTTP client
//! (`upstream::direct`); the upstream's answer goes back as it came — status, headers, the body
//! streamed — with only what the SDK path also changes: hop-by-hop headers dropped, and
//! `aws-chunked` taken out of a stored `Content-Encoding` (see [`super::get`]).
//!
//! The lean path takes a read only when it can serve it exactly as the SDK path would, and
//! *declines* it otherwise ([`Lean::Declined`]), for the SDK path to serve:
//! - the bucket is registered with its region known (no discovery, no region look-up to start),
//!   its upstream has an explicit endpoint with no path (not AWS's own endpoints, whose rules the
//!   SDK knows) and static keys (assumed roles and `credential_process` keep the SDK's identity
//!   cache), and the key is not blank (see `upstream::BlankKey`);
//! - every header can be signed as sent (visible ASCII);
//! - the upstream answers 2xx or 304. Any other answer — a missing key, a wrong region, an
//!   upstream's error page — is dropped and the read, which changes nothing, served again the
//!   SDK's way, so that errors are mapped and renamed in one place; so is a connection
//!   failure. That second attempt is the SDK path's last ([`serve_declined`]): a failing
//!   upstream gets as many attempts as without the lean path. Only a timeout is answered
//!   here, as the SDK path would (`503`), since trying again would wait as long again.

use std::future::Future;
use std::time::{Instant, SystemTime};

use aws_smithy_types::body::SdkBody;
use http::header::{self, HeaderName};
use s3s::{S3Error, S3Result};

use super::Gateway;
use crate::metrics::request;
use crate::upstream::direct;
use crate::upstream::error::UpstreamError;

/// A GetObject or HeadObject as the client sent it, its signature checked by the front.
#[derive(Debug)]
pub struct LeanRead<'a> {
    pub method: &'a http::Method,
    /// The client's bucket.
    pub bucket: &'a str,
    /// The key as the client's path spells it (percent-encoded).
    pub key: &'a str,
    /// The query without a presigned request's signature parameters, if any is left.
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
}

/// What the lean path made of a read.
#[derive(Debug)]
pub enum Lean {
    /// The upstream's answer for the client.
    Answered(http::Response<s3s::Body>),
    /// For the SDK path to serve (see the module documentation), with [`serve_declined`].
    Declined(Declined),
}

/// A read the lean path declined: whether it sent it upstream already.
#[derive(Debug, Clone, Copy)]
pub struct Declined {
    sent: bool,
}

const NOT_SENT: Lean = Lean::Declined(Declined { sent: false });
const SENT: Lean = Lean::Declined(Declined { sent: true });

/// Serves a declined read the SDK's way (`sdk_path`: the front handing it to the operation).
/// If the lean path sent it already, that was its first attempt: the SDK path makes one more,
/// never a retry after it, so an upstream that fails gets as many attempts as before.
pub async fn serve_declined<F: Future>(declined: Declined, sdk_path: F) -> F::Output {
    if declined.sent {
        crate::upstream::bounds::one_attempt_left(sdk_path).await
    } else {
        sdk_path.await
    }
}

/// Request headers not sent upstream: the client's signature and addressing (the upstream
/// request gets its own) and the hop-by-hop headers of RFC 9110, section 7.6.1.
const NOT_FORWARDED: &[&str] = &[
    "host",
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// Answer headers not sent to the client: hop-by-hop (RFC 9110, section 7.6.1), and the
/// upstream's `Server`, which the SDK path does not pass on either.
const NOT_RETURNED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "server",
];

impl Gateway {
    /// Serves `read` the lean way, or declines it (see the module documentation).
    pub async fn lean_read(&self, read: LeanRead<'_>) -> S3Result<Lean> {
        if !self.lean_path_on() {
            return Ok(NOT_SENT);
        }
        let lean = self.try_lean_read(&read).await;
        if let Ok(answered) = &lean {
            self.inner
                .metrics
                .lean_path(matches!(answered, Lean::Answered(_)));
        }
        lean
    }

    async fn try_lean_read(&self, read: &LeanRead<'_>) -> S3Result<Lean> {
        let snapshot = self.inner.registry.snapshot();
        if snapshot
            .buckets
            .get(read.bucket)
            .is_none_or(|p| p.cloud_region.is_none())
        {
            return Ok(NOT_SENT);
        }
        let Ok(route) = self.inner.resolver.route(&snapshot, read.bucket) else {
            return Ok(NOT_SENT);
        };
        let Some(identity) = direct::static_identity(&route.key.credentials) else {
            return Ok(NOT_SENT);
        };
        let Ok(key) = percent_encoding::percent_decode_str(read.key).decode_utf8() else {
            return Ok(NOT_SENT);
        };
        if key.trim().is_empty() {
            return Ok(NOT_SENT);
        }
        let Some(uri) = direct::object_uri(&route.key, &route.backend, &key, read.query) else {
            return Ok(NOT_SENT);
        };
        let mut req = http::Request::new(SdkBody::empty());
        *req.method_mut() = read.method.clone();
        *req.uri_mut() = uri;
        let connection_tokens = tokens(read.headers.get(header::CONNECTION));
        for (name, value) in read.headers {
            if !NOT_FORWARDED.contains(&name.as_str())
                && !connection_tokens.iter().any(|t| t == name.as_str())
            {
                req.headers_mut().append(name.clone(), value.clone());
            }
        }
        if direct::sign(&mut req, &identity, &route.key.region, SystemTime::now()).is_err() {
            return Ok(NOT_SENT);
        }
        let started = Instant::now();
        let sent = self.inner.pool.direct().send(req).await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) if e.is_timeout() => {
                request::record_upstream(started.elapsed(), None);
                let op = if read.method == http::Method::HEAD {
                    "head_object"
                } else {
                    "get_object"
                };
                let classified = UpstreamError::of_connector(&e, &route, op);
                if let Some(kind) = classified.metric_kind() {
                    self.inner
                        .metrics
                        .upstream_error(route.key.endpoint_display(), kind);
                }
                let mut e: S3Error = classified.into();
                if let Some(id) = request::id() {
                    e.set_request_id(id.as_str());
                }
                return Err(e);
            }
            Err(_) => return Ok(SENT),
        };
        request::record_upstream(started.elapsed(), resp.headers().get("x-amz-request-id"));
        let status = resp.status();
        if !(status.is_success() || status == http::StatusCode::NOT_MODIFIED) {
            return Ok(SENT);
        }
        Ok(Lean::Answered(for_client(resp)))
    }
}

/// The upstream's answer as the client gets it (see the module documentation).
fn for_client(resp: http::Response<SdkBody>) -> http::Response<s3s::Body> {
    let (mut parts, body) = resp.into_parts();
    let connection_tokens = tokens(parts.headers.get(header::CONNECTION));
    for name in NOT_RETURNED
        .iter()
        .copied()
        .chain(connection_tokens.iter().map(String::as_str))
    {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            parts.headers.remove(name);
        }
    }
    if let Some(encoding) = parts.headers.get(header::CONTENT_ENCODING) {
        let stored = super::get::strip_aws_chunked(encoding.to_str().ok().map(str::to_owned));
        match stored.map(http::HeaderValue::try_from) {
            Some(Ok(v)) => {
                parts.headers.insert(header::CONTENT_ENCODING, v);
            }
            _ => {
                parts.headers.remove(header::CONTENT_ENCODING);
            }
        }
    }
    http::Response::from_parts(parts, s3s::Body::http_body(body))
}

/// The header names a `Connection` header lists (lowercase), which are hop-by-hop too.
fn tokens(connection: Option<&http::HeaderValue>) -> Vec<String> {
    connection
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_lose_hop_by_hop_headers_and_the_upload_framing_only() {
        let resp = http::Response::builder()
            .header("connection", "keep-alive, x-hop")
            .header("x-hop", "1")
            .header("server", "upstream/1.0")
            .header("transfer-encoding", "chunked")
            .header("content-encoding", "aws-chunked,gzip")
            .header("etag", "\"abc\"")
            .header("x-amz-meta-a", "b")
            .body(SdkBody::empty())
            .unwrap();
        let out = for_client(resp);
        let h = out.headers();
        for gone in ["connection", "x-hop", "server", "transfer-encoding"] {
            assert!(!h.contains_key(gone), "{gone}");
        }
        assert_eq!(h["content-encoding"], "gzip");
        assert_eq!(h["etag"], "\"abc\"");
        assert_eq!(h["x-amz-meta-a"], "b");

        let resp = http::Response::builder()
            .header("content-encoding", "aws-chunked")
            .body(SdkBody::empty())
            .unwrap();
        assert!(!for_client(resp).headers().contains_key("content-encoding"));
    }
}
