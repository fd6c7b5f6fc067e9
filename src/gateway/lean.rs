//! The lean path: GetObject, HeadObject, ListObjects, ListObjectsV2, PutObject and UploadPart
//! forwarded without the SDK.
//!
//! Most S3 traffic is small reads and writes, and for them the SDK path (s3s DTO → SDK input →
//! the SDK's orchestrator → SDK output → s3s DTO) costs several times what the upstream spends
//! serving them (docs/PERFORMANCE.md has the profile). Here a request the client sent is re-addressed
//! to the bucket's upstream, signed for it and sent over the same HTTP client
//! (`upstream::direct`); the upstream's answer goes back as it came — status, headers, the body
//! streamed — with only what the SDK path also changes: hop-by-hop headers dropped,
//! `aws-chunked` taken out of `Content-Encoding` (see [`super::get`]), and a listing read whole
//! and normalized as the SDK path normalizes it (`upstream::compat`: ETags quoted, ...).
//!
//! The lean path takes a request only when it can serve it as the SDK path would, and
//! *declines* it otherwise, for the SDK path to serve. Always:
//! - the bucket is registered with its region known (no discovery, no region look-up to start),
//!   its upstream is addressed by the SDK's own endpoint rules with plain SigV4 for `s3` (AWS's
//!   endpoints and explicit ones alike; not directory buckets, access points or Multi-Region
//!   Access Points: `upstream::direct::bucket_endpoint`) and signed with static keys (assumed
//!   roles and `credential_process` keep the SDK's identity cache), and the key is not blank
//!   (see `upstream::BlankKey`) and has no `.` or `..` segment;
//! - every header can be signed as sent (visible ASCII).
//!
//! **Reads** ([`Gateway::lean_read`]; a read with no key is a listing of the bucket) are
//! declined also when the upstream answers other than 2xx or 304: a missing key, a wrong
//! region, an upstream's error page is dropped and the read, which changes nothing, served
//! again the SDK's way, so that errors are mapped and renamed in one place; so is a connection
//! failure. That second attempt is the SDK path's last
//! ([`serve_declined`]): a failing upstream gets as many attempts as without the lean path.
//! Only a timeout is answered here, as the SDK path would (`503`), since trying again would
//! wait as long again. A listing of a bucket that stands for another (`backend_bck`) names the
//! upstream's bucket; it is renamed into the client's, as the SDK path renames it.
//!
//! **Uploads** ([`Gateway::lean_upload`], then [`Gateway::send_upload`]) stream their body, so
//! they are decided before anything is sent: declined when the body's length is unknown or over
//! S3's limit, or its checksum comes as a trailer (the SDK path checks and forwards those,
//! `super::body`, `upstream::trailer`). Once sent, an upload is answered here: the body watched
//! as on the SDK path (a client's failed body is the client's error), an upstream's error
//! answered as the SDK path reads it (`UpstreamError::of_answer`), never sent twice (the SDK
//! path cannot replay a streamed body either).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwapOption;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use http::header::{self, HeaderName};
use http_body_util::BodyExt;
use s3s::{S3Error, S3Result};

use super::Gateway;
use super::body::watch_body;
use super::error::MAX_UPLOAD_SIZE;
use crate::metrics::request;
use crate::profiles::{ProfileSet, StaticCredentials};
use crate::registry::RegistryState;
use crate::upstream::compat;
use crate::upstream::direct::{self, Payload};
use crate::upstream::error::UpstreamError;
use crate::upstream::route::Route;
use crate::upstream::sigv4::SignError;

/// A PutObject or UploadPart as the client sent it, its signature checked by s3s and its body
/// decoded (an `aws-chunked` one, whose `Content-Length` s3s has set to the decoded length).
#[derive(Debug)]
pub struct LeanWrite<'a> {
    /// The client's bucket.
    pub bucket: &'a str,
    /// The key as the client's path spells it (percent-encoded).
    pub key: &'a str,
    /// The query (`partNumber` and `uploadId` of an UploadPart), if any.
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
}

/// An upload the lean path takes: addressed and signed for the upstream, waiting for its body.
#[derive(Debug, Clone)]
pub struct LeanUpload {
    req: http::Request<()>,
    route: Arc<LeanRoute>,
    op: LeanOp,
}

impl LeanUpload {
    /// The operation's name in logs and metrics (`PutObject`, `UploadPart`).
    pub fn operation(&self) -> &'static str {
        self.op.name()
    }
}

/// A request re-addressed to its route's upstream, not signed yet.
struct Addressed {
    route: Arc<LeanRoute>,
    req: http::Request<()>,
}

impl Addressed {
    /// The request signed with the route's credentials, its body as `payload` says, and the
    /// route.
    fn signed(
        mut self,
        payload: Payload,
    ) -> Result<(Arc<LeanRoute>, http::Request<()>), SignError> {
        let LeanRoute {
            credentials,
            endpoint,
            ..
        } = &*self.route;
        let now = SystemTime::now();
        direct::sign(
            &mut self.req,
            credentials,
            &endpoint.signing_region,
            payload,
            now,
        )?;
        Ok((self.route, self.req))
    }
}

/// A registered bucket's route as the lean path takes it: static credentials, its upstream
/// bucket's endpoint resolved.
#[derive(Debug)]
struct LeanRoute {
    route: Route,
    /// The route's credentials (only static keys are taken).
    credentials: StaticCredentials,
    endpoint: direct::BucketEndpoint,
}

impl LeanRoute {
    /// `route` as the lean path takes it, or `None` (see the module documentation).
    fn of(route: Route) -> Option<Self> {
        let credentials = direct::static_credentials(&route.key.credentials)?.clone();
        let endpoint = direct::bucket_endpoint(&route.key, &route.backend)?;
        Some(Self {
            route,
            credentials,
            endpoint,
        })
    }
}

/// The lean routes of registered buckets, computed once per registry snapshot and set of
/// profile files: a route depends on nothing else (`Resolver::route`), and computing it
/// (profiles resolved, the endpoint rules run) is a good part of a small request's cost
/// otherwise. A new snapshot or a profiles reload starts the cache again; the snapshot and
/// profiles it was filled from are held, so neither can be mistaken for a later one.
#[derive(Default)]
pub(super) struct LeanRoutes {
    current: ArcSwapOption<RouteGeneration>,
}

/// What [`LeanRoutes`] holds for one registry snapshot and one set of profile files.
struct RouteGeneration {
    registry: Arc<RegistryState>,
    profiles: Arc<ProfileSet>,
    /// Per bucket: its lean route, or `None` when the lean path does not take it.
    routes: HashMap<String, Option<Arc<LeanRoute>>>,
}

/// How many buckets' routes one generation keeps; past that, routes are computed each time.
const CACHED_ROUTES: usize = 1024;

impl LeanRoutes {
    /// The lean route of `bucket` under `registry` and `profiles`: cached, or made by `make`
    /// (and cached).
    fn get(
        &self,
        registry: &Arc<RegistryState>,
        profiles: &Arc<ProfileSet>,
        bucket: &str,
        make: impl FnOnce() -> Option<LeanRoute>,
    ) -> Option<Arc<LeanRoute>> {
        let current = self.current.load();
        let same = current
            .as_ref()
            .filter(|g| Arc::ptr_eq(&g.registry, registry) && Arc::ptr_eq(&g.profiles, profiles));
        if let Some(cached) = same.and_then(|g| g.routes.get(bucket)) {
            return cached.clone();
        }
        let made = make().map(Arc::new);
        let mut routes = same.map(|g| g.routes.clone()).unwrap_or_default();
        if routes.len() < CACHED_ROUTES {
            routes.insert(bucket.to_owned(), made.clone());
            self.current.store(Some(Arc::new(RouteGeneration {
                registry: registry.clone(),
                profiles: profiles.clone(),
                routes,
            })));
        }
        made
    }
}

/// An operation the lean path serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeanOp {
    GetObject,
    HeadObject,
    ListObjects,
    ListObjectsV2,
    PutObject,
    UploadPart,
}

impl LeanOp {
    /// The read a signed GET or HEAD of `key` (empty: of the bucket) with `query` is, as s3s
    /// routes it: a bucket's GET is ListObjectsV2 with one `list-type=2`, else ListObjects.
    pub fn of_read(method: &http::Method, key: &str, query: Option<&str>) -> Self {
        if !key.is_empty() {
            return if method == http::Method::HEAD {
                Self::HeadObject
            } else {
                Self::GetObject
            };
        }
        let params = query_params(query).unwrap_or_default();
        let mut list_types = params
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("list-type"));
        match (list_types.next(), list_types.next()) {
            (Some((_, v)), None) if v == "2" => Self::ListObjectsV2,
            _ => Self::ListObjects,
        }
    }

    /// Its name in S3's API (logs, metrics, `upstream::compat`).
    pub fn name(self) -> &'static str {
        match self {
            Self::GetObject => "GetObject",
            Self::HeadObject => "HeadObject",
            Self::ListObjects => "ListObjects",
            Self::ListObjectsV2 => "ListObjectsV2",
            Self::PutObject => "PutObject",
            Self::UploadPart => "UploadPart",
        }
    }

    /// The SDK operation's name, as the SDK path's errors give it.
    fn sdk(self) -> &'static str {
        match self {
            Self::GetObject => "get_object",
            Self::HeadObject => "head_object",
            Self::ListObjects => "list_objects",
            Self::ListObjectsV2 => "list_objects_v2",
            Self::PutObject => "put_object",
            Self::UploadPart => "upload_part",
        }
    }

    fn is_listing(self) -> bool {
        matches!(self, Self::ListObjects | Self::ListObjectsV2)
    }
}

/// The largest error answer read to learn its S3 code (S3's are a few hundred bytes).
const MAX_ERROR_BODY: usize = 64 << 10;

/// The longest listing read (a page of 1,000 keys of 1,024 bytes is about 1.5 MiB): a longer
/// one is the SDK path's.
const MAX_LISTING: usize = 16 << 20;

/// A GetObject, HeadObject or listing as the client sent it, its signature checked by the front.
#[derive(Debug)]
pub struct LeanRead<'a> {
    pub method: &'a http::Method,
    /// The client's bucket.
    pub bucket: &'a str,
    /// The key as the client's path spells it (percent-encoded); empty for a listing.
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
/// request gets its own), the framing of an `aws-chunked` upload (s3s has decoded the body),
/// the browser's `Origin` (CORS is the front's, from rebucket's own rules: `front::cors`), and
/// the hop-by-hop headers of RFC 9110, section 7.6.1.
const NOT_FORWARDED: &[&str] = &[
    "host",
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "x-amz-decoded-content-length",
    "origin",
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

/// Answer headers not sent to the client: hop-by-hop (RFC 9110, section 7.6.1), the
/// upstream's `Server`, and its CORS answer (`Vary` and every `Access-Control-*`, see
/// [`is_cors_header`]), which the SDK path does not pass on either.
const NOT_RETURNED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "server",
    "vary",
];

/// A CORS answer header (Fetch Standard, "CORS protocol"): the front writes its own.
fn is_cors_header(name: &HeaderName) -> bool {
    name.as_str().starts_with("access-control-")
}

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
        let op = LeanOp::of_read(read.method, read.key, read.query);
        let listing = op.is_listing();
        let checked = if listing {
            list_query(read.query).map(|()| Vec::new())
        } else {
            read_query(read.query)
        };
        let Some(overrides) = checked else {
            return Ok(NOT_SENT);
        };
        let Some(addressed) =
            self.addressed(read.method, read.bucket, read.key, read.query, read.headers)
        else {
            return Ok(NOT_SENT);
        };
        let Ok((lean, req)) = addressed.signed(Payload::Empty) else {
            return Ok(NOT_SENT);
        };
        let started = Instant::now();
        let sent = self
            .inner
            .pool
            .direct()
            .send(req.map(|()| SdkBody::empty()))
            .await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) if e.is_timeout() => {
                request::record_upstream(started.elapsed(), None);
                return Err(self.unanswered(&e, &lean.route, op.sdk()));
            }
            Err(_) => return Ok(SENT),
        };
        request::record_upstream(started.elapsed(), resp.headers().get("x-amz-request-id"));
        let status = resp.status();
        if !(status.is_success() || status == http::StatusCode::NOT_MODIFIED) {
            return Ok(SENT);
        }
        if listing {
            // A listing names its bucket (`<Name>`): the upstream's, which is renamed into the
            // client's when they differ (`backend_bck`), as the SDK path renames it (`ops`).
            let backend = &*lean.route.backend;
            let names = (backend != read.bucket).then_some((backend, read.bucket));
            return Ok(match normalized_listing(resp, op, names).await {
                Some(answer) => Lean::Answered(answer),
                None => SENT,
            });
        }
        let mut answer = for_client(resp);
        if read.method == http::Method::GET && status.is_success() {
            for (name, value) in overrides {
                answer.headers_mut().insert(name, value);
            }
        }
        Ok(Lean::Answered(answer))
    }

    /// Plans `write` for the lean path; `None` declines it (see the module documentation).
    pub fn lean_upload(&self, write: &LeanWrite<'_>) -> Option<LeanUpload> {
        if !self.lean_path_on() {
            return None;
        }
        let planned = self.plan_upload(write);
        self.inner.metrics.lean_path(planned.is_some());
        planned
    }

    fn plan_upload(&self, write: &LeanWrite<'_>) -> Option<LeanUpload> {
        let h = write.headers;
        let length: u64 = h
            .get(header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()?;
        if length > MAX_UPLOAD_SIZE || h.contains_key("x-amz-trailer") {
            return None;
        }
        let params = query_params(write.query)?;
        let op = match params
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("partNumber"))
        {
            Some((_, number)) => {
                number.parse::<i32>().ok()?;
                LeanOp::UploadPart
            }
            None => LeanOp::PutObject,
        };
        let mut addressed =
            self.addressed(&http::Method::PUT, write.bucket, write.key, write.query, h)?;
        let headers = addressed.req.headers_mut();
        headers.insert(header::CONTENT_LENGTH, length.into());
        if let Some(encoding) = headers.remove(header::CONTENT_ENCODING) {
            let kept = super::get::strip_aws_chunked(encoding.to_str().ok().map(str::to_owned));
            if let Some(kept) = kept {
                headers.insert(header::CONTENT_ENCODING, kept.parse().ok()?);
            }
        }
        let (route, req) = addressed.signed(Payload::Unsigned).ok()?;
        Some(LeanUpload { req, route, op })
    }

    /// Sends `upload` with `body`, the client's (as s3s decoded it), and answers for the
    /// client: the upstream's answer, or the error as the SDK path would give it.
    pub async fn send_upload(
        &self,
        upload: LeanUpload,
        body: s3s::Body,
        client_headers: &http::HeaderMap,
    ) -> S3Result<http::Response<s3s::Body>> {
        let LeanUpload {
            req,
            route: lean,
            op,
        } = upload;
        let (body, verdict) = watch_body(Some(body.into()), client_headers, None);
        let body = body.map(s3s::Body::from).unwrap_or_default();
        let req = req.map(|()| SdkBody::from_body_1_x(body));
        let started = Instant::now();
        let sent = self.inner.pool.direct().send(req).await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                request::record_upstream(started.elapsed(), None);
                let unanswered = self.unanswered(&e, &lean.route, op.sdk());
                return Err(verdict.take().unwrap_or(unanswered));
            }
        };
        request::record_upstream(started.elapsed(), resp.headers().get("x-amz-request-id"));
        let status = resp.status();
        if status.is_success() {
            return Ok(for_client(resp));
        }
        if let Some(e) = verdict.take() {
            return Err(e);
        }
        let body = http_body_util::Limited::new(resp.into_body(), MAX_ERROR_BODY)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let classified = UpstreamError::of_answer(status, &body, &lean.route, op.sdk());
        Err(self.for_client_error(classified, &lean.route))
    }

    /// The upstream request for `method` on object `key` (as the client's path spells it) of
    /// the client's `bucket`: the route's upstream and credentials, the URI at its endpoint, the
    /// client's headers that travel on; `None` where the lean path does not go (see the module
    /// documentation).
    fn addressed(
        &self,
        method: &http::Method,
        bucket: &str,
        key: &str,
        query: Option<&str>,
        headers: &http::HeaderMap,
    ) -> Option<Addressed> {
        let snapshot = self.inner.registry.snapshot();
        snapshot.buckets.get(bucket)?.cloud_region.as_ref()?;
        let resolver = &self.inner.resolver;
        let route = self
            .inner
            .lean_routes
            .get(&snapshot, &resolver.profiles(), bucket, || {
                LeanRoute::of(resolver.route(&snapshot, bucket).ok()?)
            })?;
        let key = percent_encoding::percent_decode_str(key)
            .decode_utf8()
            .ok()?;
        // A `.` or `..` segment could be resolved by a server on the way and name another
        // bucket's object; such keys keep the SDK path's handling.
        let blank = !key.is_empty() && key.trim().is_empty();
        if blank || key.split('/').any(|s| s == "." || s == "..") {
            return None;
        }
        let mut req = http::Request::new(());
        *req.method_mut() = method.clone();
        *req.uri_mut() = route.endpoint.target(&key, query)?;
        let connection_tokens = tokens(headers.get(header::CONNECTION));
        for (name, value) in headers {
            if !NOT_FORWARDED.contains(&name.as_str())
                && !connection_tokens.iter().any(|t| t == name.as_str())
            {
                req.headers_mut().append(name.clone(), value.clone());
            }
        }
        Some(Addressed { route, req })
    }

    /// A request that got no answer, as the SDK path answers it (counted in the metrics).
    fn unanswered(&self, e: &ConnectorError, route: &Route, op: &'static str) -> S3Error {
        self.for_client_error(UpstreamError::of_connector(e, route, op), route)
    }

    /// `classified` as the client gets it, as `forward::send` gives it: counted in the metrics
    /// when it is no S3 error, with rebucket's request id.
    fn for_client_error(&self, classified: UpstreamError, route: &Route) -> S3Error {
        if let Some(kind) = classified.metric_kind() {
            self.inner
                .metrics
                .upstream_error(route.key.endpoint_display(), kind);
        }
        let mut e: S3Error = classified.into();
        if let Some(id) = request::id() {
            e.set_request_id(id.as_str());
        }
        e
    }
}

/// A query's parameters, percent-decoded (`None` if one is not UTF-8).
fn query_params(query: Option<&str>) -> Option<Vec<(String, String)>> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(name)?, decode(value)?))
        })
        .collect()
}

/// Whether a listing's query reads as s3s parses it: `None` (for s3s to answer) if
/// `max-keys` is no number, `fetch-owner` no boolean, `list-type` other than 2, or a parameter
/// is repeated (s3s takes a repeated `list-type` for none, and refuses the others).
fn list_query(query: Option<&str>) -> Option<()> {
    let params = query_params(query)?;
    for (i, (name, value)) in params.iter().enumerate() {
        if params[..i]
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            return None;
        }
        match name.to_ascii_lowercase().as_str() {
            "list-type" if value != "2" => return None,
            "max-keys" => {
                value.parse::<i32>().ok()?;
            }
            "fetch-owner" => {
                value.parse::<bool>().ok()?;
            }
            _ => {}
        }
    }
    Some(())
}

/// A listing's answer for the client: read whole (as the SDK path reads it, at most
/// [`MAX_LISTING`]) and normalized as the SDK path normalizes it (`upstream::compat`); `None`
/// (for the SDK path to answer) if it is longer, not UTF-8, or its body fails.
async fn normalized_listing(
    resp: http::Response<SdkBody>,
    op: LeanOp,
    names: Option<(&str, &str)>,
) -> Option<http::Response<s3s::Body>> {
    let (parts, body) = resp.into_parts();
    let body = http_body_util::Limited::new(body, MAX_LISTING)
        .collect()
        .await
        .ok()?
        .to_bytes();
    let text = std::str::from_utf8(&body).ok()?;
    let normalized = compat::normalized_listing(text, op.name());
    let body = match names {
        None => normalized.map_or(body, bytes::Bytes::from),
        Some((upstream, client)) => bytes::Bytes::from(renamed_listing(
            normalized.as_deref().unwrap_or(text),
            upstream,
            client,
        )?),
    };
    let mut answer = for_client(http::Response::from_parts(parts, SdkBody::empty()));
    answer
        .headers_mut()
        .insert(header::CONTENT_LENGTH, body.len().into());
    *answer.body_mut() = s3s::Body::from(body);
    Some(answer)
}

/// Listing `xml` of bucket `upstream` naming bucket `client` instead: its `<Name>` element, the
/// one element of a ListObjects(V2) answer by that name (Amazon S3 API Reference,
/// "ListObjectsV2", response elements), rewritten. Both are registered bucket names
/// (`registry::BucketName`: letters, digits, dots and hyphens), which XML spells as they are.
/// `None` (for the SDK path) if it names no bucket or another.
fn renamed_listing(xml: &str, upstream: &str, client: &str) -> Option<String> {
    const OPEN: &str = "<Name>";
    let start = xml.find(OPEN)? + OPEN.len();
    let end = start + xml[start..].find("</Name>")?;
    (xml[start..end] == *upstream).then(|| format!("{}{client}{}", &xml[..start], &xml[end..]))
}

/// The answer headers a GetObject's `response-*` parameters set (s3s sets them on the SDK path:
/// its `ops/get_object.rs`, as S3 does), checking the query as s3s parses it: `None` (for s3s
/// to answer) if a `partNumber` is no number, a value is no header value, or there is a
/// `response-expires`, which s3s reads as a date.
fn read_query(query: Option<&str>) -> Option<Vec<(HeaderName, http::HeaderValue)>> {
    let mut overrides = Vec::new();
    for (name, value) in query_params(query)? {
        let header = match name.to_ascii_lowercase().as_str() {
            "partnumber" => {
                value.parse::<i32>().ok()?;
                continue;
            }
            "response-expires" => return None,
            "response-content-type" => header::CONTENT_TYPE,
            "response-content-language" => header::CONTENT_LANGUAGE,
            "response-cache-control" => header::CACHE_CONTROL,
            "response-content-disposition" => header::CONTENT_DISPOSITION,
            "response-content-encoding" => header::CONTENT_ENCODING,
            _ => continue,
        };
        overrides.push((header, value.parse().ok()?));
    }
    Some(overrides)
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
        // By `&str`: no `HeaderName` made (and allocated, for a non-standard one).
        parts.headers.remove(name);
    }
    let cors: Vec<HeaderName> = parts
        .headers
        .keys()
        .filter(|n| is_cors_header(n))
        .cloned()
        .collect();
    for name in cors {
        parts.headers.remove(name);
    }
    for value in parts
        .headers
        .iter_mut()
        .filter(|(name, _)| name.as_str().starts_with("x-amz-meta-"))
        .map(|(_, value)| value)
    {
        if let Some(encoded) = encoded_metadata(value) {
            *value = encoded;
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

/// A user metadata value that is not printable ASCII (UTF-8 stored by an upload that sent it
/// raw, or by the SDK path, which decodes encoded words before storing), RFC 2047-encoded as S3
/// returns such values ("Working with object metadata", Amazon S3 User Guide) and as the SDK
/// path answers them (s3s's metadata serializer): one `=?UTF-8?B?…?=` word if it fits in 75
/// characters, else words of at most 45 bytes cut at character boundaries, joined by spaces.
/// `None` for a value to keep as it is (printable ASCII, or not UTF-8).
fn encoded_metadata(value: &http::HeaderValue) -> Option<http::HeaderValue> {
    const MAX_WORD_BYTES: usize = 45;
    let bytes = value.as_bytes();
    if bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let word = |chunk: &str| format!("=?UTF-8?B?{}?=", aws_smithy_types::base64::encode(chunk));
    let encoded = if (text.len() * 4).div_ceil(3) + 12 <= 75 {
        word(text)
    } else {
        let mut words = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let mut end = rest.len().min(MAX_WORD_BYTES);
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            words.push(word(&rest[..end]));
            rest = &rest[end..];
        }
        words.join(" ")
    };
    http::HeaderValue::from_str(&encoded).ok()
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
    fn a_listing_is_renamed_only_where_it_names_the_upstream_bucket() {
        let xml = "<ListBucketResult><Name>back</Name><Prefix></Prefix>\
                   <Contents><Key>&lt;Name&gt;back</Key><Owner><DisplayName>back</DisplayName>\
                   </Owner></Contents></ListBucketResult>";
        assert_eq!(
            renamed_listing(xml, "back", "front").unwrap(),
            xml.replacen("<Name>back</Name>", "<Name>front</Name>", 1)
        );
        // It names another bucket, or none: the SDK path's to answer.
        assert_eq!(renamed_listing(xml, "other", "front"), None);
        assert_eq!(
            renamed_listing("<ListBucketResult></ListBucketResult>", "back", "front"),
            None
        );
    }

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
            .header("access-control-allow-origin", "*")
            .header("vary", "Origin")
            .body(SdkBody::empty())
            .unwrap();
        let out = for_client(resp);
        let h = out.headers();
        for gone in [
            "connection",
            "x-hop",
            "server",
            "transfer-encoding",
            "access-control-allow-origin",
            "vary",
        ] {
            assert!(!h.contains_key(gone), "{gone}");
        }
        assert_eq!(h["content-encoding"], "gzip");
        assert_eq!(h["etag"], "\"abc\"");
        assert_eq!(h["x-amz-meta-a"], "b");

        let raw = |v: &[u8]| {
            let resp = http::Response::builder()
                .header("x-amz-meta-name", http::HeaderValue::from_bytes(v).unwrap())
                .body(SdkBody::empty())
                .unwrap();
            for_client(resp).headers()["x-amz-meta-name"].clone()
        };
        assert_eq!(raw("ésté".as_bytes()), "=?UTF-8?B?w6lzdMOp?=");
        assert_eq!(raw(b"plain ascii"), "plain ascii");
        assert_eq!(raw(b"=?UTF-8?B?w6lzdMOp?="), "=?UTF-8?B?w6lzdMOp?=");
        let long = "é".repeat(30);
        let words = raw(long.as_bytes());
        let words: Vec<&str> = words.to_str().unwrap().split(' ').collect();
        assert_eq!(words.len(), 2, "{words:?}");
        assert!(words.iter().all(|w| w.len() <= 75));

        let resp = http::Response::builder()
            .header("content-encoding", "aws-chunked")
            .body(SdkBody::empty())
            .unwrap();
        assert!(!for_client(resp).headers().contains_key("content-encoding"));
    }
}
