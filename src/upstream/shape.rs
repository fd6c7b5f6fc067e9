//! Upstream requests shaped as S3 clients send them, where the AWS SDK's own requests differ.
//! One interceptor ([`ClientShaped`]) on every upstream client applies five fixes, each its own
//! function:
//! - [`BlankKey`]: an object key of only white space (`" "`), which S3 accepts but the SDK
//!   refuses to send, goes under a stand-in name and is put back into the request's path;
//! - [`content_type_left_unset`]: a PutObject without `Content-Type` stays without one (the SDK
//!   would add `application/octet-stream`, so the upstream would not apply its own default and
//!   the stored object would differ from one uploaded directly);
//! - [`content_md5_of_what_is_sent`]: an XML document re-serialized by s3s carries the
//!   Content-MD5 of what is sent;
//! - [`bodiless_put_has_length`]: a body-less PUT carries `Content-Length: 0`;
//! - [`list_headers_on_one_line`]: a list header goes as one comma-separated line.

use aws_sdk_s3::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;

/// The interceptor that applies the fixes of this module.
#[derive(Debug)]
pub struct ClientShaped;

/// Request headers whose value is a list (`ETag,ObjectSize`).
const LIST_HEADERS: &[&str] = &[
    "x-amz-object-attributes",
    "x-amz-optional-object-attributes",
];

/// Marks an execution whose input named no content type.
#[derive(Debug, Clone)]
struct ContentTypeUnset;

impl aws_smithy_types::config_bag::Storable for ContentTypeUnset {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

/// An object key of only white space. S3 accepts any UTF-8 key of 1 to 1024 bytes
/// ([Object key naming](https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html)),
/// but the SDK refuses, before sending, a key that is empty once trimmed (its endpoint
/// parameters call it a required field not set). Such a key is replaced in the input by
/// [`BlankKey::STAND_IN`] ([`BlankKey::hide`]); the real key travels in a task-local slot
/// around the call ([`BlankKey::scope`]), and the interceptor writes it, percent-encoded, into
/// the request path in place of the stand-in before the request is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlankKey(String);

tokio::task_local! {
    static BLANK_KEY: Option<BlankKey>;
}

impl BlankKey {
    /// The name the SDK sends instead of the key (one path segment, nothing to encode).
    const STAND_IN: &'static str = "rebucket-blank-key-stand-in";

    /// Replaces a key of only white space with the stand-in and returns it; other keys stay.
    pub fn hide(key: &mut String) -> Option<Self> {
        (!key.is_empty() && key.trim().is_empty())
            .then(|| Self(std::mem::replace(key, Self::STAND_IN.to_owned())))
    }

    /// Runs an upstream call with the key [`BlankKey::hide`] took out of its input.
    pub async fn scope<F: Future>(key: Option<Self>, call: F) -> F::Output {
        BLANK_KEY.scope(key, call).await
    }

    /// Puts the key back into the request path, where the stand-in ends it.
    fn restore(&self, req: &mut HttpRequest) {
        let uri = req.uri().to_owned();
        let (path, query) = uri.split_once('?').unwrap_or((&uri, ""));
        let Some(prefix) = path.strip_suffix(Self::STAND_IN) else {
            return;
        };
        let encoded: String = self.0.bytes().map(|b| format!("%{b:02X}")).collect();
        let path = format!("{prefix}{encoded}");
        let uri = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        // The URI was valid with the stand-in; percent-escapes keep it valid.
        let _ = req.set_uri(uri);
    }
}

impl Intercept for ClientShaped {
    fn name(&self) -> &'static str {
        "ClientShaped"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let unset = context
            .input()
            .downcast_ref::<aws_sdk_s3::operation::put_object::PutObjectInput>()
            .is_some_and(|i| i.content_type().is_none());
        if unset {
            cfg.interceptor_state().store_put(ContentTypeUnset);
        }
        Ok(())
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = context.request_mut();
        if let Ok(Some(key)) = BLANK_KEY.try_with(Clone::clone) {
            key.restore(req);
        }
        if cfg.load::<ContentTypeUnset>().is_some() {
            content_type_left_unset(req);
        }
        content_md5_of_what_is_sent(req);
        bodiless_put_has_length(req);
        list_headers_on_one_line(req);
        Ok(())
    }
}

/// Drops the `Content-Type` the SDK adds to a PutObject whose client sent none.
fn content_type_left_unset(req: &mut HttpRequest) {
    req.headers_mut().remove("content-type");
}

/// An XML document (tagging, CORS, ...) goes upstream as s3s re-serialized it, so the client's
/// Content-MD5, taken over its own bytes, would not match: say the MD5 of what is sent. Object
/// bodies stream (no in-memory bytes) and keep the client's.
fn content_md5_of_what_is_sent(req: &mut HttpRequest) {
    if req.headers().get("content-md5").is_some()
        && let Some(bytes) = req.body().bytes()
        && !bytes.is_empty()
    {
        use md5::Digest;
        let md5 = aws_smithy_types::base64::encode(md5::Md5::digest(bytes));
        req.headers_mut().insert("content-md5", md5);
    }
}

/// A body-less PUT (UploadPartCopy, CopyObject, ...) goes out without Content-Length; S3
/// accepts that, some servers answer 411. Say 0, as other S3 clients do.
fn bodiless_put_has_length(req: &mut HttpRequest) {
    if req.method() == "PUT"
        && req.headers().get("content-length").is_none()
        && req.headers().get("transfer-encoding").is_none()
        && req.body().bytes().is_some_and(<[u8]>::is_empty)
    {
        req.headers_mut().insert("content-length", "0");
    }
}

/// The SDK sends a list header as one line per item; S3 clients send one line, and servers
/// that read only the first line (moto, SeaweedFS) would see one attribute.
fn list_headers_on_one_line(req: &mut HttpRequest) {
    for name in LIST_HEADERS {
        let items: Vec<String> = req.headers().get_all(*name).map(str::to_owned).collect();
        if items.len() > 1 {
            req.headers_mut().remove(*name);
            req.headers_mut().insert(*name, items.join(","));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_key_goes_under_a_stand_in_and_comes_back_in_the_path() {
        let mut key = " ".to_owned();
        let blank = BlankKey::hide(&mut key).expect("a blank key");
        assert_eq!(key, BlankKey::STAND_IN);
        for (uri, want) in [
            (
                format!("http://up:9000/b/{}?x-id=PutObject", BlankKey::STAND_IN),
                "http://up:9000/b/%20?x-id=PutObject",
            ),
            (
                format!("http://b.up:9000/{}", BlankKey::STAND_IN),
                "http://b.up:9000/%20",
            ),
        ] {
            let mut req = HttpRequest::empty();
            req.set_uri(uri).unwrap();
            blank.restore(&mut req);
            assert_eq!(req.uri(), want);
        }
        for kept in ["", "a", " a ", "a b"] {
            let mut key = kept.to_owned();
            assert_eq!(BlankKey::hide(&mut key), None);
            assert_eq!(key, kept);
        }
    }
}
