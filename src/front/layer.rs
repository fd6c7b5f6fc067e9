//! The S3 front's HTTP layer: what happens to every request on the S3 listener around the s3s
//! service, in order — s3s's differences from S3 fixed on the request ([`Parity::before`]), how
//! the client reached the front attached ([`FrontOrigin`]), a fresh [`Verdict`] attached, the
//! s3s service called, its answer fixed ([`Parity::after`]), the CORS follow-up run
//! ([`FollowUp`]) if the front's checks let the request in, an anonymous caller's error answer
//! stripped of its details ([`FrontError::Redacted`]), and one log line written.
//!
//! It lives in the front because every step is about the client's side of a request; the
//! listener (`server.rs`) only serves it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use hyper::service::Service;

use http_body_util::BodyExt;

use super::cors::FollowUp;
use super::error::FrontError;
use super::verdict::{Caller, Verdict};
use super::{Front, FrontHost, FrontOrigin, Parity};

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
        let parity = Parity::before(&mut req);
        let line = RequestLine::new(&req, &self.front.host);
        if let Some(origin) = FrontOrigin::of(req.headers(), req.uri(), line.virtual_hosted) {
            req.extensions_mut().insert(origin);
        }
        let cors = FollowUp::of(&self.front.cors, &req, &line.bucket);
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
                Err(_) => {
                    let resp = error_response(FrontError::PostFormsBusy.into());
                    let res = Ok(resp);
                    line.finish(&res);
                    return Box::pin(async move { res });
                }
            }
        }
        let verdict = Arc::new(Verdict::default());
        req.extensions_mut().insert(verdict.clone());
        let fut = verdict.clone().scope(self.inner.call(req));
        Box::pin(async move {
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
            drop(form_memory);
            line.finish(&res);
            res
        })
    }
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
    let code = xml_code(&bytes).unwrap_or_else(|| "InternalError".to_owned());
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
fn error_response(err: s3s::S3Error) -> http::Response<s3s::Body> {
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

/// The `<Code>` of an S3 XML error body.
fn xml_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let (_, rest) = text.split_once("<Code>")?;
    let (code, _) = rest.split_once("</Code>")?;
    Some(code.trim().to_owned()).filter(|c| !c.is_empty() && c.len() < 64)
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
}

fn content_length(headers: &http::HeaderMap) -> u64 {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
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
            bucket,
            key: key.to_owned(),
            virtual_hosted,
            bytes_in: decoded_len.unwrap_or_else(|| content_length(req.headers())),
        }
    }

    fn finish(self, res: &Result<http::Response<s3s::Body>, BoxError>) {
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        match res {
            Ok(resp) => tracing::info!(
                method = %self.method,
                host = %self.host,
                bucket = %self.bucket,
                key = %self.key,
                status = resp.status().as_u16(),
                bytes_in = self.bytes_in,
                bytes_out = content_length(resp.headers()),
                ms = format_args!("{ms:.1}"),
                "request"
            ),
            Err(e) => tracing::warn!(
                method = %self.method,
                bucket = %self.bucket,
                key = %self.key,
                error = %e,
                ms = format_args!("{ms:.1}"),
                "request failed"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{FrontHost, RequestLine};

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
