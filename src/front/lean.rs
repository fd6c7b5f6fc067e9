//! Which requests go the gateway's lean path (`gateway::Gateway::lean_read`): a signed GET or
//! HEAD of an object with no sub-resource, taken as a custom route once s3s has checked its
//! signature and before it parses the operation's input. What the lean path declines is served
//! as any GET or HEAD, through the front's unauthenticated service ([`IgnoredRange::hand_over`]):
//! the same operation with the same input, since its signature and access are checked already.
//!
//! The query may hold only what a plain GetObject or HeadObject sends (`versionId`,
//! `partNumber`, the `response-*` overrides, the SDKs' `x-id`) and a presigned request's
//! signature (not forwarded); anything else names another operation (`?acl`, `?uploadId`,
//! `?attributes`, ...) or one S3 would refuse, and goes to s3s.

use s3s::{Body, S3Request, S3Response, S3Result};

use super::range::{IgnoredRange, unsigned_uri};
use super::verdict::Verdict;
use super::{FrontHost, host};
use crate::gateway::{Gateway, Lean, LeanRead, serve_declined};

/// Query parameters of a plain GetObject or HeadObject (lowercase).
const READ_PARAMS: &[&str] = &[
    "versionid",
    "partnumber",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "x-id",
];

/// Whether a request is one the lean path may take: a signed GET or HEAD naming an object, with
/// a plain read's query and a `Range` s3s would accept.
pub(super) fn is_lean_read(
    front_host: &FrontHost,
    method: &http::Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
) -> bool {
    if !(method == http::Method::GET || method == http::Method::HEAD)
        || !Verdict::current_is_signed()
        || IgnoredRange::unusable_range(headers)
    {
        return false;
    }
    let (bucket, key, _) = front_host.bucket_and_key(host(headers), uri.path());
    if bucket.is_empty() || key.is_empty() {
        return false;
    }
    let query = unsigned_uri(uri);
    query.query().is_none_or(|q| {
        q.split('&').filter(|p| !p.is_empty()).all(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            READ_PARAMS.contains(&name.to_ascii_lowercase().as_str())
        })
    })
}

/// Serves a read [`is_lean_read`] took: the lean way, or handed over if the gateway declines it.
pub(super) async fn serve(
    gateway: &Gateway,
    front_host: &FrontHost,
    fallback: &IgnoredRange,
    req: S3Request<Body>,
) -> S3Result<S3Response<Body>> {
    let (bucket, key, _) = front_host.bucket_and_key(host(&req.headers), req.uri.path());
    let forwarded = unsigned_uri(&req.uri);
    let read = LeanRead {
        method: &req.method,
        bucket: &bucket,
        key,
        query: forwarded.query(),
        headers: &req.headers,
    };
    match gateway.lean_read(read).await? {
        Lean::Answered(resp) => {
            let (parts, body) = resp.into_parts();
            let mut out = S3Response::new(body);
            out.status = Some(parts.status);
            out.headers = parts.headers;
            Ok(out)
        }
        Lean::Declined(declined) => serve_declined(declined, fallback.hand_over(req)).await,
    }
}
