//! What rebucket's S3 front adds to s3s: requests S3 answers differently from s3s, taken as
//! s3s custom routes (matched after the signature check), and mends of requests and answers
//! on the HTTP layer around s3s ([`Mends`]), and how a request reached the front
//! ([`FrontOrigin`], for answers that hand out a URL).

mod mend;
mod origin;
mod range;

pub use mend::Mends;
pub use origin::{FrontOrigin, object_url};
pub use range::IgnoredRange;

use s3s::{Body, S3Request, S3Response, S3Result};

/// The front's custom routes (s3s takes one route; this one dispatches).
pub struct Routes {
    /// Requests whose Range S3 would ignore.
    pub ignored_range: IgnoredRange,
    /// Whether unsigned requests are let through (the front's `allow_anonymous`).
    pub allow_anonymous: bool,
}

/// A method S3 has no operation for (`PATCH`, `TRACE`, ...): S3 answers `405
/// MethodNotAllowed`, s3s alone `501 NotImplemented`.
fn unknown_method(method: &http::Method) -> bool {
    use http::Method;
    ![
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::POST,
        Method::DELETE,
        Method::OPTIONS,
    ]
    .contains(method)
}

#[async_trait::async_trait]
impl s3s::route::S3Route for Routes {
    fn is_match(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        extensions: &mut http::Extensions,
    ) -> bool {
        unknown_method(method)
            || self
                .ignored_range
                .is_match(method, uri, headers, extensions)
    }

    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        match req.credentials {
            Some(_) => Ok(()),
            None if self.allow_anonymous => Ok(()),
            None => Err(s3s::s3_error!(AccessDenied, "Signature is required")),
        }
    }

    async fn call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        if unknown_method(&req.method) {
            return Err(s3s::s3_error!(
                MethodNotAllowed,
                "The specified method ({}) is not allowed against this resource.",
                req.method
            ));
        }
        self.ignored_range.call(req).await
    }
}
