//! POST-form uploads (browser uploads, `multipart/form-data`): the checks S3 makes on a form's
//! fields that s3s does not, made on the fields alone, before s3s reads the form and long
//! before it reads the file.
//!
//! - A form that names its credentials (`AWSAccessKeyId`, `x-amz-credential` or `policy`) but
//!   carries no signature is malformed: S3 answers `400 InvalidArgument` (s3s takes it as
//!   anonymous, which the front refuses with 403).
//! - The policy's `expiration` is an ISO 8601 UTC date-time, `2007-12-01T12:00:00.000Z`
//!   ("Creating a POST policy", Amazon S3 API Reference); S3 answers `400
//!   InvalidPolicyDocument` to any other form of it, where s3s takes every RFC 3339 date-time
//!   (a space for the `T`, a numeric offset).
//!
//! [`FormCheck`] reads the fields that come before the file (at most [`MAX_FIELDS_BYTES`]; a
//! form is refused by s3s past its own, smaller, limit), and hands s3s the form whole: the bytes
//! it read, then the rest as the client sends it.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use s3s::service::S3Service;

use super::error::FrontError;
use crate::listener::body::{Answer, Handler};

/// The most of a form read to find its fields.
pub const MAX_FIELDS_BYTES: usize = 64 << 10;

/// The s3s service behind the form check.
#[derive(Clone)]
pub struct FormCheck {
    inner: S3Service,
}

impl FormCheck {
    pub fn new(inner: S3Service) -> Self {
        Self { inner }
    }
}

impl Handler for FormCheck {
    fn handle(&self, req: http::Request<s3s::Body>) -> Answer {
        let service = self.inner.clone();
        let Some(boundary) = form_boundary(&req) else {
            return Box::pin(async move { service.call(req).await });
        };
        Box::pin(async move {
            let (parts, mut body) = req.into_parts();
            let head = match read_fields(&mut body, &boundary).await {
                Ok(head) => head,
                // The client's body failed (it stalled or went away): s3s meets the same error
                // reading the rest, so the body is handed on as it is.
                Err(err) => {
                    let failed = Prefixed {
                        head: None,
                        rest: s3s::Body::http_body(Failed(Some(err))),
                    };
                    let req = http::Request::from_parts(parts, s3s::Body::http_body(failed));
                    return service.call(req).await;
                }
            };
            if let Some(err) = refusal(&fields(&head, &boundary)) {
                return Ok(super::layer::error_response(err.into()));
            }
            let body = Prefixed {
                head: Some(head.freeze()),
                rest: body,
            };
            service
                .call(http::Request::from_parts(parts, s3s::Body::http_body(body)))
                .await
        })
    }
}

/// The boundary of a POST form request, `None` for any other request.
fn form_boundary(req: &http::Request<s3s::Body>) -> Option<Vec<u8>> {
    if !super::is_form(req.method(), req.headers()) {
        return None;
    }
    let value = req
        .headers()
        .get(http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    let mime: mime::Mime = value.parse().ok()?;
    let boundary = mime.get_param(mime::BOUNDARY)?;
    Some(boundary.as_str().as_bytes().to_vec())
}

/// Reads `body` until the file part starts, the body ends, or [`MAX_FIELDS_BYTES`].
async fn read_fields(body: &mut s3s::Body, boundary: &[u8]) -> Result<BytesMut, s3s::StdError> {
    let mut head = BytesMut::new();
    let file_part = file_part_marker(boundary);
    while head.len() < MAX_FIELDS_BYTES && !contains_file_part(&head, &file_part) {
        match body.frame().await {
            None => break,
            Some(frame) => {
                if let Ok(data) = frame?.into_data() {
                    head.extend_from_slice(&data);
                }
            }
        }
    }
    Ok(head)
}

/// The start of the part whose field name is `file`, lowercased (what comes after it is the
/// file).
fn file_part_marker(boundary: &[u8]) -> Vec<u8> {
    let mut m = b"--".to_vec();
    m.extend(boundary.iter().map(u8::to_ascii_lowercase));
    m
}

fn contains_file_part(head: &[u8], boundary_line: &[u8]) -> bool {
    let lower = head.to_ascii_lowercase();
    lower
        .windows(boundary_line.len())
        .enumerate()
        .filter(|(_, w)| *w == boundary_line)
        .any(|(at, _)| {
            let rest = &lower[at..];
            let end = rest
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap_or(rest.len());
            let headers = &rest[..end];
            headers
                .windows(b"name=\"file\"".len())
                .any(|w| w == b"name=\"file\"")
        })
}

/// The form fields complete in `head` that come before the file: (name lowercased, value).
fn fields(head: &[u8], boundary: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(boundary);
    let mut out = Vec::new();
    let mut pieces = split(head, &delimiter).into_iter().skip(1).peekable();
    while let Some(piece) = pieces.next() {
        if pieces.peek().is_none() {
            break; // not known to be complete
        }
        let piece = piece.strip_prefix(b"\r\n").unwrap_or(piece);
        let Some(end) = piece.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&piece[..end]).to_ascii_lowercase();
        let Some(name) = field_name(&headers) else {
            continue;
        };
        if name == "file" {
            break;
        }
        let value = &piece[end + 4..];
        let value = value.strip_suffix(b"\r\n").unwrap_or(value);
        out.push((name, value.to_vec()));
    }
    out
}

/// The `name` of a part's `Content-Disposition: form-data; name="..."` (lowercased headers).
fn field_name(headers: &str) -> Option<String> {
    let at = headers.find("name=\"")? + "name=\"".len();
    let len = headers[at..].find('"')?;
    Some(headers[at..at + len].to_owned())
}

fn split<'a>(hay: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + delimiter.len() <= hay.len() {
        if &hay[i..i + delimiter.len()] == delimiter {
            out.push(&hay[start..i]);
            i += delimiter.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&hay[start..]);
    out
}

/// What S3 answers a form with these fields before reading it further, if it refuses it.
fn refusal(fields: &[(String, Vec<u8>)]) -> Option<FrontError> {
    let has = |name: &str| fields.iter().any(|(n, _)| n == name);
    let signed = has("signature") || has("x-amz-signature");
    let names_credentials = has("awsaccesskeyid") || has("x-amz-credential") || has("policy");
    if !signed && names_credentials {
        let field = if has("x-amz-credential") {
            "X-Amz-Signature"
        } else {
            "Signature"
        };
        return Some(FrontError::FormUnsigned(field));
    }
    let policy = fields.iter().find(|(n, _)| n == "policy")?;
    let expiration = policy_expiration(&policy.1)?;
    let malformed = !is_iso8601_utc(&expiration);
    malformed.then_some(FrontError::PolicyExpiration(expiration))
}

/// The `expiration` of a base64 JSON policy, if it is one (s3s refuses one that is not).
fn policy_expiration(policy_b64: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(policy_b64.trim_ascii()).ok()?;
    let json = aws_smithy_types::base64::decode(text).ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&json).ok()?;
    doc.get("expiration")?.as_str().map(str::to_owned)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
fn is_iso8601_utc(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let fixed = digits(0..4)
        && at(4, b'-')
        && digits(5..7)
        && at(7, b'-')
        && digits(8..10)
        && at(10, b'T')
        && digits(11..13)
        && at(13, b':')
        && digits(14..16)
        && at(16, b':')
        && digits(17..19);
    if !fixed || !s.ends_with('Z') {
        return false;
    }
    match &s[19..s.len() - 1] {
        "" => true,
        fraction => {
            fraction.len() > 1
                && fraction.starts_with('.')
                && fraction[1..].bytes().all(|d| d.is_ascii_digit())
        }
    }
}

/// A body whose first bytes were read already.
struct Prefixed {
    head: Option<Bytes>,
    rest: s3s::Body,
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(head) = self.head.take()
            && !head.is_empty()
        {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn size_hint(&self) -> SizeHint {
        let head = self.head.as_ref().map_or(0, |h| h.len() as u64);
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + head);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + head);
        }
        hint
    }
}

/// A body that fails with the error its client's body failed with.
struct Failed(Option<s3s::StdError>);

impl Body for Failed {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.take().map(Err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in fields {
            out.extend_from_slice(
                format!(
                    "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        out.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nDATA",
        );
        out
    }

    fn policy(expiration: &str) -> String {
        aws_smithy_types::base64::encode(format!(
            r#"{{"expiration":"{expiration}","conditions":[]}}"#
        ))
    }

    #[test]
    fn the_fields_before_the_file_are_read_and_the_file_is_not() {
        let body = form(&[("key", "a b"), ("Policy", "cG9s")]);
        assert!(contains_file_part(&body, &file_part_marker(b"XyZ")));
        let f = fields(&body, b"XyZ");
        assert_eq!(
            f,
            vec![
                ("key".to_owned(), b"a b".to_vec()),
                ("policy".to_owned(), b"cG9s".to_vec())
            ]
        );
    }

    #[test]
    fn only_a_utc_iso8601_expiration_is_taken() {
        for good in [
            "2030-01-01T00:00:00Z",
            "2030-01-01T00:00:00.000Z",
            "2030-01-01T00:00:00.123456Z",
        ] {
            assert!(is_iso8601_utc(good), "{good}");
        }
        for bad in [
            "2030-01-01 00:00:00Z",
            "2030-01-01 00:00:00.123456+00:00",
            "2030-01-01T00:00:00+00:00",
            "2030-01-01T00:00:00",
            "2030-01-01T00:00:00.Z",
            "not a date",
            "",
        ] {
            assert!(!is_iso8601_utc(bad), "{bad}");
        }
    }

    #[test]
    fn a_form_naming_credentials_without_a_signature_is_malformed() {
        let p = policy("2030-01-01T00:00:00Z");
        let f = fields(&form(&[("AWSAccessKeyId", "AK"), ("policy", &p)]), b"XyZ");
        assert!(matches!(
            refusal(&f),
            Some(FrontError::FormUnsigned("Signature"))
        ));
        let f = fields(
            &form(&[("x-amz-credential", "AK/..."), ("policy", &p)]),
            b"XyZ",
        );
        assert!(matches!(
            refusal(&f),
            Some(FrontError::FormUnsigned("X-Amz-Signature"))
        ));
        // Anonymous (no credentials named): left to the access check.
        assert!(refusal(&fields(&form(&[("key", "k")]), b"XyZ")).is_none());
        let signed = fields(
            &form(&[("AWSAccessKeyId", "AK"), ("policy", &p), ("signature", "s")]),
            b"XyZ",
        );
        assert!(refusal(&signed).is_none());
    }

    #[test]
    fn a_policy_with_a_malformed_expiration_is_refused() {
        let p = policy("2030-01-01 00:00:00.000000+00:00");
        let f = fields(
            &form(&[("AWSAccessKeyId", "AK"), ("policy", &p), ("signature", "s")]),
            b"XyZ",
        );
        assert!(matches!(refusal(&f), Some(FrontError::PolicyExpiration(_))));
    }
}
