//! Which requests go the gateway's lean path (`gateway::lean`), taken as a custom route once
//! s3s has checked their signature (and decoded an `aws-chunked` body) and before it parses the
//! operation's input:
//! - a signed GET or HEAD of an object with no sub-resource, or a signed GET listing a bucket
//!   ([`is_lean_read`]). What the lean path declines is served as any GET or HEAD, through the
//!   front's unauthenticated service ([`IgnoredRange::hand_over`]): the same operation with the
//!   same input, since its signature and access are checked already;
//! - a signed PutObject or UploadPart ([`lean_upload`]), which the gateway plans while the route
//!   is matched: an upload it declines is not taken, and s3s serves it as usual (its body cannot
//!   be handed over once s3s has decoded it).
//!
//! The query may hold only what a plain GetObject or HeadObject sends (`versionId`,
//! `partNumber`, the `response-*` overrides, the SDKs' `x-id`), or a PutObject (`x-id`) or
//! UploadPart (`partNumber` and `uploadId`), or a ListObjects or ListObjectsV2 (`list-type`,
//! `prefix`, `delimiter`, `max-keys`, ...), and a presigned request's signature (not
//! forwarded); anything else names another operation (`?acl`, `?uploadId` alone,
//! `?attributes`, ...) or one S3 would refuse, and goes to s3s.

use s3s::{Body, S3Request, S3Response, S3Result};

use super::range::{IgnoredRange, s3_response, unsigned_uri};
use super::verdict::Verdict;
use super::{FrontHost, host};
use crate::gateway::{Gateway, Lean, LeanOp, LeanRead, LeanUpload, LeanWrite, serve_declined};

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

/// Query parameters of a ListObjects or ListObjectsV2 (lowercase).
const LIST_PARAMS: &[&str] = &[
    "list-type",
    "prefix",
    "delimiter",
    "max-keys",
    "encoding-type",
    "marker",
    "continuation-token",
    "start-after",
    "fetch-owner",
];

/// Query parameters of a PutObject, and of an UploadPart, which has both numbers.
const UPLOAD_PARAMS: &[&str] = &["partnumber", "uploadid", "x-id"];

/// The names of the query parameters of `uri` without a presigned signature's, lowercase;
/// `None` if one is not in `allowed`.
fn query_names(uri: &http::Uri, allowed: &[&str]) -> Option<Vec<String>> {
    let unsigned = unsigned_uri(uri);
    let mut names = Vec::new();
    for pair in unsigned
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let name = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
        if !allowed.contains(&name.as_str()) {
            return None;
        }
        names.push(name);
    }
    Some(names)
}

/// Whether a request is one the lean path may take: a signed GET or HEAD naming an object, with
/// a plain read's query and a `Range` s3s would accept, or a signed GET of a bucket with a
/// listing's query.
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
    if bucket.is_empty() {
        return false;
    }
    if key.is_empty() {
        return method == http::Method::GET && query_names(uri, LIST_PARAMS).is_some();
    }
    query_names(uri, READ_PARAMS).is_some()
}

/// The operation of a read [`is_lean_read`] took, for logs and metrics.
pub(super) fn read_operation(
    front_host: &FrontHost,
    method: &http::Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
) -> &'static str {
    let (_, key, _) = front_host.bucket_and_key(host(headers), uri.path());
    LeanOp::of_read(method, key, uri.query()).name()
}

/// The gateway's plan for a signed PutObject or UploadPart (not a copy), if it takes it.
pub(super) fn lean_upload(
    gateway: &Gateway,
    front_host: &FrontHost,
    method: &http::Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
) -> Option<LeanUpload> {
    if method != http::Method::PUT
        || !Verdict::current_is_signed()
        || headers.contains_key("x-amz-copy-source")
        || !gateway.lean_path_on()
    {
        return None;
    }
    let names = query_names(uri, UPLOAD_PARAMS)?;
    let numbered = |n: &str| names.iter().filter(|x| *x == n).count();
    let part = (numbered("partnumber"), numbered("uploadid"));
    if !(part == (0, 0) || part == (1, 1)) {
        return None;
    }
    let (bucket, key, _) = front_host.bucket_and_key(host(headers), uri.path());
    if bucket.is_empty() || key.is_empty() {
        return None;
    }
    let forwarded = unsigned_uri(uri);
    gateway.lean_upload(&LeanWrite {
        bucket: &bucket,
        key,
        query: forwarded.query(),
        headers,
    })
}

/// Sends an upload [`lean_upload`] planned, with the client's body.
pub(super) async fn send_upload(
    gateway: &Gateway,
    upload: LeanUpload,
    req: S3Request<Body>,
) -> S3Result<S3Response<Body>> {
    let resp = gateway.send_upload(upload, req.input, &req.headers).await?;
    Ok(s3_response(resp))
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
        Lean::Answered(resp) => Ok(s3_response(resp)),
        Lean::Declined(declined) => serve_declined(declined, fallback.hand_over(req)).await,
    }
}
