//! Parity with S3 around s3s on the S3 listener: what s3s does differently from S3 before an
//! operation runs or in how it writes an answer, fixed on the HTTP request or response.
//! Decided from the request ([`Parity::before`]) and applied to the answer ([`Parity::after`]);
//! each fix says which S3 behaviour it restores and why it cannot live in the gateway.

use super::error::FrontError;
use crate::gateway::UpstreamStatus;
use crate::s3s_errors::FAILED_POLICY_CONDITION;

/// The parity fixes one request needs.
pub struct Parity {
    post_object: bool,
    attributes: bool,
    /// Whether the request has a body.
    body: bool,
    refusal: Option<FrontError>,
}

impl Parity {
    /// Fixes `req` before s3s sees it and notes what its answer will need.
    pub fn before<B>(req: &mut http::Request<B>) -> Self {
        bodiless_copy_has_length(req);
        preflight_is_anonymous(req);
        sigv4_date_header(req);
        Self {
            post_object: is_post_object(req),
            attributes: is_get_object_attributes(req),
            body: has_body(req),
            refusal: empty_content_md5(req),
        }
    }

    /// The error S3 answers this request with before any operation runs, where s3s would let
    /// it through.
    pub fn refusal(&mut self) -> Option<FrontError> {
        self.refusal.take()
    }

    /// Fixes the answer s3s gives.
    pub fn after(&self, resp: &mut http::Response<s3s::Body>) {
        if self.body {
            unreadable_body(resp);
        }
        if self.post_object {
            // A POST object answers its form's `success_action_status`; the PutObject it
            // became upstream answered 200 either way.
            policy_condition_denied(resp);
            if resp.status() == http::StatusCode::CREATED {
                quote_post_response_etag(resp);
                post_response_location(resp);
            }
        } else {
            upstream_status(resp);
        }
        if self.attributes && resp.status().is_success() {
            unquote_etag(resp);
        }
    }
}

/// s3s reads the body of the operations whose input is a document (DeleteObjects,
/// CompleteMultipartUpload, Put*Configuration, ...) whole before they run, and answers a body
/// it cannot read (short of its `Content-Length`, aws-chunked framing broken, payload hash or
/// chunk signature not matching; s3s 0.14, `extract_full_body` in `src/ops/mod.rs`) with a
/// `500 InternalError` without a message: a client's mistake answered as a server fault. S3
/// answers a body it cannot read with a `4xx`
/// ([Error responses](https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html):
/// `IncompleteBody`, `XAmzContentSHA256Mismatch`, `SignatureDoesNotMatch`); the front cannot
/// tell which, and answers `400 IncompleteBody`. Only s3s's own error is rewritten: rebucket's
/// and the upstream's errors have a message, and a request that reached an upstream had its
/// body read.
fn unreadable_body(resp: &mut http::Response<s3s::Body>) {
    if resp.status() != http::StatusCode::INTERNAL_SERVER_ERROR
        || crate::metrics::request::upstream_called()
    {
        return;
    }
    let s3s_own = resp.body().bytes().is_some_and(|b| {
        let text = String::from_utf8_lossy(&b);
        text.contains("<Code>InternalError</Code>") && !text.contains("<Message>")
    });
    if s3s_own {
        *resp = super::layer::error_response(FrontError::UnreadableBody.into());
    }
}

/// Whether a request has a body: a `Content-Length` other than 0, or a transfer coding.
fn has_body<B>(req: &http::Request<B>) -> bool {
    let h = req.headers();
    h.contains_key(http::header::TRANSFER_ENCODING)
        || h.get(http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// s3s answers every successful operation with the status its DTO names (HeadObject: 200); S3
/// answers what the upstream answered (206 to a HEAD with `Range` or `partNumber`), which the
/// gateway attaches to the answer ([`UpstreamStatus`]). s3s's own error answers keep theirs.
fn upstream_status<B>(resp: &mut http::Response<B>) {
    if let Some(UpstreamStatus(status)) = resp.extensions_mut().remove()
        && resp.status().is_success()
    {
        *resp.status_mut() = status;
    }
}

/// A copy (`PUT` with `x-amz-copy-source`) has no body; clients such as boto3 then send no
/// `Content-Length`, which S3 accepts but s3s answers with 411. Such a request gets
/// `Content-Length: 0` (an unsigned header when absent, so signatures are unaffected).
fn bodiless_copy_has_length<B>(req: &mut http::Request<B>) {
    let h = req.headers();
    if req.method() == http::Method::PUT
        && h.contains_key("x-amz-copy-source")
        && !h.contains_key(http::header::CONTENT_LENGTH)
        && !h.contains_key(http::header::TRANSFER_ENCODING)
    {
        req.headers_mut().insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from_static("0"),
        );
    }
}

/// SigV4 takes a request's time from `x-amz-date` or, without it, from the `Date` header
/// ([Signature Version 4 header-based auth](https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html):
/// "The time stamp must be in UTC and in the following ISO 8601 format ... If `x-amz-date` is
/// not present, the `Date` header is used"); s3s 0.14 reads only `x-amz-date` and answers
/// `400 InvalidRequest` without it. The `Date` value (RFC 1123) is copied, in the ISO basic
/// format of the string to sign, into an `x-amz-date` header. s3s builds the canonical request
/// only from the headers the `SignedHeaders` list names (`date`, not the added header), so the
/// client's signature still verifies; a `Date` that is no RFC 1123 date is left to s3s.
fn sigv4_date_header<B>(req: &mut http::Request<B>) {
    let h = req.headers();
    let sigv4 = h
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "));
    if !sigv4 || h.contains_key("x-amz-date") {
        return;
    }
    let Some(iso) = h
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(rfc1123_to_iso_basic)
    else {
        return;
    };
    if let Ok(v) = http::HeaderValue::from_str(&iso) {
        req.headers_mut().insert("x-amz-date", v);
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` → `19941106T084937Z`; `None` for anything else.
fn rfc1123_to_iso_basic(date: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = date.split(' ');
    let (_weekday, day, month, year, time, zone) = (
        parts.next()?.strip_suffix(',')?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    let hms: Vec<&str> = time.split(':').collect();
    let ok = parts.next().is_none()
        && zone == "GMT"
        && digits(day, 2)
        && digits(year, 4)
        && hms.len() == 3
        && hms.iter().all(|p| digits(p, 2));
    ok.then(|| format!("{year}{month:02}{day}T{}{}{}Z", hms[0], hms[1], hms[2]))
}

/// S3 answers a `Content-MD5` header without a value with `400 InvalidDigest`
/// ([Error responses](https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html):
/// "The Content-MD5 you specified is not valid"); s3s 0.14 passes the empty digest on and the
/// upload succeeds.
fn empty_content_md5<B>(req: &http::Request<B>) -> Option<FrontError> {
    req.headers()
        .get_all("content-md5")
        .iter()
        .any(|v| v.as_bytes().trim_ascii().is_empty())
        .then_some(FrontError::InvalidDigest)
}

/// A preflight (`OPTIONS`) is never authenticated: S3 answers it before, and without, any
/// signature check, also on a presigned URL (a browser preflights the URL it is about to use).
/// Its `Authorization` header and query string go, so that s3s takes it as anonymous and hands
/// it to the front's CORS route, which needs neither.
fn preflight_is_anonymous<B>(req: &mut http::Request<B>) {
    if req.method() != http::Method::OPTIONS {
        return;
    }
    req.headers_mut().remove(http::header::AUTHORIZATION);
    if req.uri().query().is_some() {
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = req.uri().path().parse::<http::uri::PathAndQuery>().ok();
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
}

/// s3s answers a POST object whose form breaks a condition of its policy with 400
/// `InvalidPolicyDocument`, the code it also gives a malformed policy; S3 answers 403
/// `AccessDenied` ("Invalid according to Policy: Policy Condition failed"), and browser code
/// tells the two apart. s3s checks the policy before any operation runs, so its answer is
/// rewritten here: only that error, recognised by the message s3s gives failed conditions
/// (read through [`crate::s3s_errors`], as s3s has no typed error for it).
fn policy_condition_denied(resp: &mut http::Response<s3s::Body>) {
    const DENIED: &str =
        "<Code>AccessDenied</Code><Message>Invalid according to Policy: Policy Condition failed: ";
    if resp.status() != http::StatusCode::BAD_REQUEST {
        return;
    }
    let failed = format!("<Code>InvalidPolicyDocument</Code><Message>{FAILED_POLICY_CONDITION}");
    if rewrite_body(resp, |text| {
        text.contains(&failed)
            .then(|| text.replacen(&failed, DENIED, 1))
    }) {
        *resp.status_mut() = http::StatusCode::FORBIDDEN;
    }
}

/// s3s writes the ETag of the `<PostResponse>` document (`success_action_status=201`)
/// unquoted; S3 quotes it there, as in every answer but GetObjectAttributes.
fn quote_post_response_etag(resp: &mut http::Response<s3s::Body>) {
    rewrite_body(resp, |xml| {
        let start = xml.find("<ETag>")? + "<ETag>".len();
        let end = start + xml[start..].find("</ETag>")?;
        let etag = &xml[start..end];
        (!etag.starts_with('"') && !etag.starts_with("&quot;"))
            .then(|| format!("{}\"{etag}\"{}", &xml[..start], &xml[end..]))
    });
}

/// s3s writes `/<bucket>/<key>` as the `<Location>` of the `<PostResponse>` document; S3 writes
/// the object's URL, the one of the answer's `Location` header (set by `gateway/put.rs`).
fn post_response_location(resp: &mut http::Response<s3s::Body>) {
    let Some(url) = resp
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.replace('&', "&amp;"))
    else {
        return;
    };
    rewrite_body(resp, |xml| {
        let start = xml.find("<Location>")? + "<Location>".len();
        let end = start + xml[start..].find("</Location>")?;
        Some(format!("{}{url}{}", &xml[..start], &xml[end..]))
    });
}

/// Replaces a small answer body s3s holds in memory (an XML document) with what `f` makes of
/// it, keeping `Content-Length` right; `false` when `f` made nothing of it.
fn rewrite_body(
    resp: &mut http::Response<s3s::Body>,
    f: impl FnOnce(&str) -> Option<String>,
) -> bool {
    let Some(bytes) = resp.body().bytes() else {
        return false;
    };
    let Some(text) = std::str::from_utf8(&bytes).ok().and_then(f) else {
        return false;
    };
    resp.headers_mut().insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(text.len()),
    );
    *resp.body_mut() = s3s::Body::from(text);
    true
}

/// Whether a request is a POST object (an HTML form upload), which s3s answers itself.
fn is_post_object<B>(req: &http::Request<B>) -> bool {
    req.method() == http::Method::POST
        && req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Whether a request is a GetObjectAttributes (`GET /key?attributes`).
fn is_get_object_attributes<B>(req: &http::Request<B>) -> bool {
    req.method() == http::Method::GET
        && req.uri().query().is_some_and(|q| {
            q.split('&')
                .any(|kv| kv.split('=').next() == Some("attributes"))
        })
}

/// S3 answers GetObjectAttributes with the ETag unquoted (`<ETag>abc</ETag>`, unlike every
/// other answer), and so do the upstreams; s3s 0.14 writes every XML ETag quoted (s3s issue
/// #629, fixed in later versions), so a client comparing it with the object's ETag sees another
/// value. Unquotes it in that answer, a small XML document s3s holds in memory.
fn unquote_etag(resp: &mut http::Response<s3s::Body>) {
    rewrite_body(resp, |xml| {
        xml.contains("<ETag>\"").then(|| {
            xml.replace("<ETag>\"", "<ETag>")
                .replace("\"</ETag>", "</ETag>")
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_answers_the_upstream_status_and_an_error_its_own() {
        let mut resp = http::Response::new(());
        resp.extensions_mut()
            .insert(UpstreamStatus(http::StatusCode::PARTIAL_CONTENT));
        upstream_status(&mut resp);
        assert_eq!(resp.status(), http::StatusCode::PARTIAL_CONTENT);

        let mut resp = http::Response::new(());
        *resp.status_mut() = http::StatusCode::NOT_MODIFIED;
        resp.extensions_mut()
            .insert(UpstreamStatus(http::StatusCode::OK));
        upstream_status(&mut resp);
        assert_eq!(resp.status(), http::StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn a_sigv4_date_header_becomes_x_amz_date() {
        let req = |date: &str, amz: Option<&str>, auth: &str| {
            let mut b = http::Request::get("/b/k")
                .header("date", date)
                .header("authorization", auth);
            if let Some(a) = amz {
                b = b.header("x-amz-date", a);
            }
            let mut r = b.body(()).unwrap();
            sigv4_date_header(&mut r);
            r.headers()
                .get("x-amz-date")
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let v4 = "AWS4-HMAC-SHA256 Credential=x";
        let date = "Wed, 02 Dec 2026 04:05:06 GMT";
        assert_eq!(req(date, None, v4).as_deref(), Some("20261202T040506Z"));
        assert_eq!(
            req(date, Some("20261202T000000Z"), v4).as_deref(),
            Some("20261202T000000Z"),
            "x-amz-date wins"
        );
        assert_eq!(req(date, None, "AWS x:y"), None, "SigV2 keeps its Date");
        assert_eq!(req("yesterday", None, v4), None);
        assert_eq!(rfc1123_to_iso_basic("Wed, 2 Dec 2026 04:05:06 GMT"), None);
        assert_eq!(rfc1123_to_iso_basic("Wed, 02 Foo 2026 04:05:06 GMT"), None);
    }

    #[test]
    fn an_empty_content_md5_is_an_invalid_digest() {
        let req = |md5: &str| {
            http::Request::put("/b/k")
                .header("content-md5", md5)
                .body(())
                .unwrap()
        };
        assert_eq!(empty_content_md5(&req("")), Some(FrontError::InvalidDigest));
        assert_eq!(
            empty_content_md5(&req(" ")),
            Some(FrontError::InvalidDigest)
        );
        assert_eq!(empty_content_md5(&req("1B2M2Y8AsgTpgAmY7PhCfg==")), None);
        let none = http::Request::put("/b/k").body(()).unwrap();
        assert_eq!(empty_content_md5(&none), None);
    }

    #[test]
    fn a_preflight_loses_its_credentials() {
        let mut req = http::Request::options("/b/k?X-Amz-Signature=abc&X-Amz-Expires=60")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=x")
            .header("origin", "https://app.example")
            .body(())
            .unwrap();
        preflight_is_anonymous(&mut req);
        assert_eq!(req.uri(), "/b/k");
        assert!(!req.headers().contains_key("authorization"));
        assert!(req.headers().contains_key("origin"));
        let mut get = http::Request::get("/b/k?X-Amz-Signature=abc")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=x")
            .body(())
            .unwrap();
        preflight_is_anonymous(&mut get);
        assert_eq!(get.uri(), "/b/k?X-Amz-Signature=abc");
        assert!(get.headers().contains_key("authorization"));
    }

    #[test]
    fn a_post_object_is_a_form_upload() {
        let post = |ct: &str| {
            http::Request::post("/b")
                .header("content-type", ct)
                .body(())
                .unwrap()
        };
        assert!(is_post_object(&post("multipart/form-data; boundary=x")));
        assert!(is_post_object(&post("Multipart/Form-Data; boundary=x")));
        assert!(!is_post_object(&post("application/xml")));
    }

    #[test]
    fn get_object_attributes_answers_an_unquoted_etag() {
        let req = |uri: &str| http::Request::get(uri).body(()).unwrap();
        assert!(is_get_object_attributes(&req("/b/k?attributes")));
        assert!(is_get_object_attributes(&req(
            "/b/k?versionId=1&attributes="
        )));
        assert!(!is_get_object_attributes(&req("/b/k?attributesx")));
        assert!(!is_get_object_attributes(&req("/b/k")));

        let xml = "<GetObjectAttributesOutput><ETag>\"abc\"</ETag><ObjectSize>3</ObjectSize></GetObjectAttributesOutput>";
        let mut resp = http::Response::new(s3s::Body::from(xml.to_owned()));
        unquote_etag(&mut resp);
        assert_eq!(
            resp.body().bytes().unwrap(),
            "<GetObjectAttributesOutput><ETag>abc</ETag><ObjectSize>3</ObjectSize></GetObjectAttributesOutput>"
        );
    }

    #[test]
    fn post_response_etag_is_quoted_once() {
        let doc = |etag: &str| {
            format!("<PostResponse><Location>/b/k</Location><ETag>{etag}</ETag></PostResponse>")
        };
        let mut resp = http::Response::new(s3s::Body::from(doc("abc")));
        quote_post_response_etag(&mut resp);
        assert_eq!(resp.body().bytes().unwrap(), doc("\"abc\""));
        assert_eq!(
            resp.headers()["content-length"],
            doc("\"abc\"").len().to_string()
        );
        quote_post_response_etag(&mut resp);
        assert_eq!(resp.body().bytes().unwrap(), doc("\"abc\""));
    }

    #[test]
    fn post_response_location_is_the_location_header() {
        let doc = |loc: &str| format!("<PostResponse><Location>{loc}</Location></PostResponse>");
        let mut resp = http::Response::new(s3s::Body::from(doc("/b/a%26b")));
        post_response_location(&mut resp);
        assert_eq!(
            resp.body().bytes().unwrap(),
            doc("/b/a%26b"),
            "no header: kept"
        );
        resp.headers_mut().insert(
            http::header::LOCATION,
            http::HeaderValue::from_static("http://gw:9000/b/a%26b?x&y"),
        );
        post_response_location(&mut resp);
        let want = doc("http://gw:9000/b/a%26b?x&amp;y");
        assert_eq!(resp.body().bytes().unwrap(), want);
        assert_eq!(resp.headers()["content-length"], want.len().to_string());
    }

    #[test]
    fn failed_post_policy_condition_is_access_denied() {
        let xml = |code: &str, msg: &str| {
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>\
                 <Message>{msg}</Message></Error>"
            )
        };
        let answer = |status: u16, body: String| {
            let mut r = http::Response::new(s3s::Body::from(body));
            *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
            r
        };
        let failed = "Policy condition 'eq' for field 'x-amz-meta-must' failed";
        let mut r = answer(400, xml("InvalidPolicyDocument", failed));
        policy_condition_denied(&mut r);
        assert_eq!(r.status(), http::StatusCode::FORBIDDEN);
        let body = String::from_utf8(r.body().bytes().unwrap().to_vec()).unwrap();
        assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
        assert!(body.contains("Invalid according to Policy: Policy Condition failed: 'eq'"));
        assert_eq!(
            r.headers()["content-length"],
            body.len().to_string().as_str()
        );

        // A malformed policy stays 400 InvalidPolicyDocument.
        let mut r = answer(
            400,
            xml("InvalidPolicyDocument", "failed to parse POST policy"),
        );
        policy_condition_denied(&mut r);
        assert_eq!(r.status(), http::StatusCode::BAD_REQUEST);
    }
}
