//! The S3 front's HTTP layer: what happens to every request on the S3 listener around the s3s
//! service, in order — s3s's differences from S3 fixed on the request ([`Parity::before`]), how
//! the client reached the front attached ([`FrontOrigin`]), a POST form's memory reserved, a
//! fresh [`Verdict`] attached, the s3s service called, its answer fixed ([`Parity::after`]), the
//! CORS follow-up run ([`FollowUp`]) if the front's checks let the request in, an anonymous
//! caller's error answer stripped of its details ([`FrontError::Redacted`]), rebucket's request
//! id put on the answer (headers and error body), one log line written and the request counted
//! (`crate::metrics`).
//!
//! It lives in the front because every step is about the client's side of a request; the
//! listener (`server.rs`) only serves it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::service::Service;
use s3s::header::{X_AMZ_ID_2, X_AMZ_REQUEST_ID};

use super::cors::FollowUp;
use super::error::FrontError;
use super::verdict::{Caller, Verdict};
use super::{Front, FrontHost, FrontOrigin, Parity};
use crate::metrics::request::{self, RequestId, Summary};
use crate::metrics::{CountsConnections, Finished, OpenConnection, bucket_label, status_class};

/// A boxed error of the layer: s3s's service errors are opaque to it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The S3 front's per-request layer over an s3s service `S`.
#[derive(Clone)]
pub struct FrontLayer<S> {
    inner: S,
    front: Arc<Front>,
}

impl<S> FrontLayer<S> {
    pub(super) fn new(inner: S, front: Arc<Front>) -> Self {
        Self { inner, front }
    }
}

impl<S> Service<http::Request<hyper::body::Incoming>> for FrontLayer<S>
where
    S: Service<http::Request<hyper::body::Incoming>, Response = http::Response<s3s::Body>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<s3s::Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn call(&self, mut req: http::Request<hyper::body::Incoming>) -> Self::Future {
        let id = RequestId::next();
        let in_flight = self.front.gateway.metrics().request_started();
        let mut parity = Parity::before(&mut req);
        let line = RequestLine::new(&req, &self.front.host);
        let front = self.front.clone();
        let refuse = move |err: FrontError, line: RequestLine, in_flight| -> Self::Future {
            let mut res = Ok(error_response(err.into()));
            Box::pin(async move {
                let error_code = res.as_mut().ok().and_then(|resp| stamp(resp, id));
                line.finish(&res, id, Summary::default(), error_code.as_deref(), &front);
                drop(in_flight);
                res
            })
        };
        if let Some(err) = parity.refusal() {
            return refuse(err, line, in_flight);
        }
        if let Some(origin) = FrontOrigin::of(req.headers(), req.uri(), line.virtual_hosted) {
            req.extensions_mut().insert(origin);
        }
        let cors = FollowUp::of(&self.front.cors, &req, &line.bucket);
        let front = self.front.clone();
        // s3s holds a POST form's whole file in memory (s3s 0.14, `src/ops/mod.rs`): the form
        // reserves its declared length of the memory forms share, or is refused at once.
        let mut form_memory = None;
        if super::is_form(req.method(), req.headers()) {
            let declared = super::kib(content_length(req.headers()));
            let want = if declared == 0 {
                self.front.post_form_max_kib
            } else {
                declared.min(self.front.post_form_max_kib)
            };
            match self.front.post_forms.clone().try_acquire_many_owned(want) {
                Ok(permit) => form_memory = Some(permit),
                Err(_) => return refuse(FrontError::PostFormsBusy, line, in_flight),
            }
        }
        let verdict = Arc::new(Verdict::default());
        req.extensions_mut().insert(verdict.clone());
        let fut = verdict.clone().scope(self.inner.call(req));
        Box::pin(async move {
            let (mut res, summary) = request::scope(id, async move {
                let mut res = fut.await.map_err(Into::into);
                if let Ok(resp) = res.as_mut() {
                    parity.after(resp);
                    let admitted = verdict.admitted();
                    if let Some(cors) = cors.filter(|_| admitted.is_some()) {
                        cors.apply(resp).await;
                    }
                    if admitted == Some(Caller::Anonymous) {
                        redact(resp).await;
                    }
                }
                res
            })
            .await;
            drop(form_memory);
            let error_code = res.as_mut().ok().and_then(|resp| stamp(resp, id));
            line.finish(&res, id, summary, error_code.as_deref(), &front);
            drop(in_flight);
            res
        })
    }
}

impl<S> CountsConnections for FrontLayer<S> {
    fn connection_opened(&self) -> Option<OpenConnection> {
        Some(self.front.gateway.metrics().connection_opened("s3"))
    }
}

/// Puts rebucket's request id on an answer: the `x-amz-request-id` and `x-amz-id-2` headers
/// (replacing an upstream's), and the `<RequestId>` of an S3 error body (replacing an
/// upstream's, added where s3s wrote none). Returns the error's `<Code>`, if it is one.
fn stamp(resp: &mut http::Response<s3s::Body>, id: RequestId) -> Option<String> {
    let headers = resp.headers_mut();
    headers.insert(X_AMZ_REQUEST_ID, id.header_value());
    headers.insert(X_AMZ_ID_2, id.id_2_value());
    if resp.status().as_u16() < 300 {
        return None;
    }
    let body = resp.body().bytes().filter(|b| !b.is_empty())?;
    let code = error_code(&body).map(str::to_owned);
    if let Some(stamped) = with_request_id(&body, id.as_str()) {
        if resp.headers().contains_key(http::header::CONTENT_LENGTH) {
            resp.headers_mut()
                .insert(http::header::CONTENT_LENGTH, stamped.len().into());
        }
        *resp.body_mut() = s3s::Body::from(bytes::Bytes::from(stamped));
    }
    code
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The `<Code>` of an S3 error body.
fn error_code(body: &[u8]) -> Option<&str> {
    let start = find(body, b"<Code>")? + b"<Code>".len();
    let len = find(&body[start..], b"</Code>")?;
    std::str::from_utf8(&body[start..start + len]).ok()
}

/// An S3 error body with `id` as its `<RequestId>`; `None` if it is no S3 error body or has
/// that id already.
fn with_request_id(body: &[u8], id: &str) -> Option<Vec<u8>> {
    const OPEN: &[u8] = b"<RequestId>";
    const CLOSE: &[u8] = b"</RequestId>";
    let end = find(body, b"</Error>")?;
    let mut out = Vec::with_capacity(body.len() + OPEN.len() + id.len() + CLOSE.len());
    match (find(body, OPEN), find(body, CLOSE)) {
        (Some(open), Some(close)) if open < close && close < end => {
            let start = open + OPEN.len();
            if &body[start..close] == id.as_bytes() {
                return None;
            }
            out.extend_from_slice(&body[..start]);
            out.extend_from_slice(id.as_bytes());
            out.extend_from_slice(&body[close..]);
        }
        _ => {
            out.extend_from_slice(&body[..end]);
            out.extend_from_slice(OPEN);
            out.extend_from_slice(id.as_bytes());
            out.extend_from_slice(CLOSE);
            out.extend_from_slice(&body[end..]);
        }
    }
    Some(out)
}

/// The largest error body read to learn its S3 code (s3s's error answers are a few hundred
/// bytes).
const MAX_ERROR_BODY: usize = 64 << 10;

/// Replaces the body of an error answer with [`FrontError::Redacted`]: the same S3 code and
/// status, a generic message. A body-less answer (HEAD) carries no details and stays.
async fn redact(resp: &mut http::Response<s3s::Body>) {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return;
    }
    let body = std::mem::take(resp.body_mut());
    let bytes = match http_body_util::Limited::new(body, MAX_ERROR_BODY)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(_) => bytes::Bytes::new(),
    };
    if bytes.is_empty() {
        return;
    }
    let code = error_code(&bytes)
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.len() < 64)
        .unwrap_or("InternalError")
        .to_owned();
    let err: s3s::S3Error = FrontError::Redacted { code, status }.into();
    let xml = error_xml(&err);
    if let Ok(len) = http::HeaderValue::try_from(xml.len().to_string()) {
        resp.headers_mut().insert(http::header::CONTENT_LENGTH, len);
    }
    *resp.body_mut() = s3s::Body::from(bytes::Bytes::from(xml));
}

/// S3's XML body of `err`.
fn error_xml(err: &s3s::S3Error) -> Vec<u8> {
    let mut xml = Vec::new();
    let mut ser = s3s::xml::Serializer::new(&mut xml);
    if ser
        .decl()
        .and_then(|()| s3s::xml::Serialize::serialize(err, &mut ser))
        .is_err()
    {
        xml.clear();
    }
    xml
}

/// The answer the layer gives itself, before s3s: `err` as S3 writes an error.
pub(super) fn error_response(err: s3s::S3Error) -> http::Response<s3s::Body> {
    let xml = error_xml(&err);
    let mut resp = http::Response::new(s3s::Body::from(bytes::Bytes::from(xml)));
    *resp.status_mut() = err
        .status_code()
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    resp
}

/// What the per-request log line says about the request.
struct RequestLine {
    started: Instant,
    method: http::Method,
    host: String,
    bucket: String,
    key: String,
    /// Whether the Host named the bucket.
    virtual_hosted: bool,
    bytes_in: u64,
    /// The access key id the request claims (from its signature), verified or not.
    user: Option<String>,
}

fn content_length(headers: &http::HeaderMap) -> u64 {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The access key id of a SigV4 `Credential=AKID/date/region/s3/aws4_request` (header or
/// presigned `X-Amz-Credential`) or a SigV2 `AWS AKID:signature` / `AWSAccessKeyId=AKID`;
/// never the secret, which requests do not carry.
fn access_key_id<B>(req: &http::Request<B>) -> Option<String> {
    if let Some(auth) = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(at) = auth.find("Credential=") {
            let rest = &auth[at + "Credential=".len()..];
            return rest.split('/').next().map(str::to_owned);
        }
        if let Some(v2) = auth.strip_prefix("AWS ") {
            return v2.split(':').next().map(str::to_owned);
        }
        return None;
    }
    let query = req.uri().query()?;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=')?;
        if name.eq_ignore_ascii_case("x-amz-credential") {
            let decoded = percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .ok()?;
            return decoded.split('/').next().map(str::to_owned);
        }
        if name.eq_ignore_ascii_case("awsaccesskeyid") {
            return Some(value.to_owned());
        }
    }
    None
}

/// Milliseconds with one decimal, as a number in JSON logs.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

impl RequestLine {
    fn new<B>(req: &http::Request<B>, front: &FrontHost) -> Self {
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let (bucket, key, virtual_hosted) = front.bucket_and_key(host, req.uri().path());
        let decoded_len = req
            .headers()
            .get("x-amz-decoded-content-length")
            .and_then(|v| v.to_str().ok()?.parse().ok());
        Self {
            started: Instant::now(),
            method: req.method().clone(),
            host: host.to_owned(),
            bucket: bucket.into_owned(),
            key: key.to_owned(),
            virtual_hosted,
            bytes_in: decoded_len.unwrap_or_else(|| content_length(req.headers())),
            user: access_key_id(req),
        }
    }

    /// Writes the log line and counts the request.
    fn finish(
        self,
        res: &Result<http::Response<s3s::Body>, BoxError>,
        id: RequestId,
        summary: Summary,
        error_code: Option<&str>,
        front: &Front,
    ) {
        let total = self.started.elapsed();
        let operation = summary.operation.unwrap_or("unknown");
        let upstream_ms = summary.upstream.map(millis);
        let upstream_id = summary.upstream_id.as_ref().and_then(|v| v.to_str().ok());
        // The fields every request's line has, then the outcome's.
        macro_rules! log_request {
            ($level:ident, $($outcome:tt)*) => {
                tracing::$level!(
                    target: "rebucket::request",
                    request_id = %id,
                    method = %self.method,
                    host = %self.host,
                    bucket = %self.bucket,
                    key = %self.key,
                    operation,
                    bytes_in = self.bytes_in,
                    ms = millis(total),
                    upstream_ms,
                    user = self.user.as_deref(),
                    upstream_request_id = upstream_id,
                    $($outcome)*
                )
            };
        }
        let (status, bytes_out) = match res {
            Ok(resp) => {
                let bytes_out = if self.method == http::Method::HEAD {
                    0
                } else if resp.headers().contains_key(http::header::CONTENT_LENGTH) {
                    content_length(resp.headers())
                } else {
                    hyper::body::Body::size_hint(resp.body())
                        .exact()
                        .unwrap_or(0)
                };
                log_request!(
                    info,
                    status = resp.status().as_u16(),
                    error_code,
                    bytes_out,
                    "request"
                );
                (status_class(resp.status()), bytes_out)
            }
            Err(e) => {
                log_request!(warn, error = %e, "request failed");
                ("error", 0)
            }
        };
        let registered = !self.bucket.is_empty() && front.gateway.is_registered(&self.bucket);
        front.gateway.metrics().request_finished(Finished {
            operation,
            bucket: bucket_label(self.bucket, registered),
            status,
            bytes_in: self.bytes_in,
            bytes_out,
            total,
            upstream: summary.upstream,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{FrontHost, RequestLine, access_key_id, error_code, with_request_id};

    #[test]
    fn error_bodies_get_our_request_id_in_place_of_any_other() {
        let bare = b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code></Error>";
        let out = with_request_id(bare, "ABCDEF0123456789").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><RequestId>ABCDEF0123456789</RequestId></Error>"
        );
        let theirs = b"<Error><Code>X</Code><RequestId>UP1</RequestId><HostId>h</HostId></Error>";
        let out = with_request_id(theirs, "OURS").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<Error><Code>X</Code><RequestId>OURS</RequestId><HostId>h</HostId></Error>"
        );
        assert!(with_request_id(b"<Error><RequestId>OURS</RequestId></Error>", "OURS").is_none());
        assert!(with_request_id(b"not xml", "OURS").is_none());
        assert_eq!(error_code(bare), Some("NoSuchKey"));
    }

    #[test]
    fn the_user_is_the_access_key_id_of_the_signature() {
        let signed = |auth: &str| {
            http::Request::get("/b/k")
                .header(http::header::AUTHORIZATION, auth)
                .body(())
                .unwrap()
        };
        let v4 = signed(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request, \
             SignedHeaders=host, Signature=abc",
        );
        assert_eq!(access_key_id(&v4).as_deref(), Some("AKIDEXAMPLE"));
        assert_eq!(
            access_key_id(&signed("AWS AKIDV2:c2lnbmF0dXJl")).as_deref(),
            Some("AKIDV2")
        );
        let presigned = http::Request::get(
            "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDQ%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc",
        )
        .body(())
        .unwrap();
        assert_eq!(access_key_id(&presigned).as_deref(), Some("AKIDQ"));
        let anonymous = http::Request::get("/b/k").body(()).unwrap();
        assert_eq!(access_key_id(&anonymous), None);
    }

    #[test]
    fn log_line_names_the_bucket_of_path_and_virtual_hosted_requests() {
        let front = FrontHost::new(&["s3.example.test".to_owned()]);
        let line = |host: &str, path: &str| {
            let req = http::Request::get(path)
                .header(http::header::HOST, host)
                .body(())
                .unwrap();
            let l = RequestLine::new(&req, &front);
            (l.bucket, l.key)
        };
        let want = ("abc".to_owned(), "dir/k.txt".to_owned());
        assert_eq!(line("abc.s3.example.test:8014", "/dir/k.txt"), want);
        assert_eq!(line("s3.example.test:8014", "/abc/dir/k.txt"), want);
        assert_eq!(line("127.0.0.1:8014", "/abc/dir/k.txt"), want);
        assert_eq!(line("127.0.0.1:8014", "/"), (String::new(), String::new()));
    }
}
