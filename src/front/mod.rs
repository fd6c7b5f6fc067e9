//! rebucket's S3 front: the s3s service ([`service`]) with the front's identities
//! ([`FrontAuth`]) and host names ([`FrontHost`]), and what it does that s3s alone does not:
//! - requests S3 answers differently, taken as s3s custom routes after the signature check
//!   (unknown methods, [`IgnoredRange`]);
//! - mends of requests and answers on the HTTP layer around s3s ([`Mends`]);
//! - how a request reached the front ([`FrontOrigin`]), for answers that hand out a URL;
//! - browsers' cross-origin requests ([`Cors`]): preflights as a custom route, the
//!   `Access-Control-*` headers of other requests on the HTTP layer ([`FollowUp`]).

mod auth;
mod cors;
mod host;
mod mend;
mod origin;
mod range;

pub use auth::{AllowAnonymous, FrontAuth};
pub use cors::{Cors, FollowUp};
pub use host::FrontHost;
pub use mend::Mends;
pub use origin::{FrontOrigin, object_url};
pub use range::IgnoredRange;

use std::sync::Arc;

use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{Body, S3Request, S3Response, S3Result};

use crate::config::ServeConfig;
use crate::gateway::Gateway;

/// What the HTTP layer around the S3 service uses of the front.
pub struct Front {
    pub host: FrontHost,
    pub cors: Arc<Cors>,
}

/// The S3 front's s3s service over `gateway`, as `config` sets it up, and what the HTTP layer
/// around it needs.
pub fn service(config: &ServeConfig, gateway: Gateway) -> (S3Service, Arc<Front>) {
    let front = Arc::new(Front {
        host: FrontHost::new(&config.domains),
        cors: Arc::new(Cors::new(gateway.clone())),
    });
    // The front's settings, shared by its service and the unauthenticated one behind its
    // routes (see [`IgnoredRange`]).
    let builder = || {
        let mut b = S3ServiceBuilder::new(gateway.clone());
        let mut s3_config = s3s::config::S3Config::default();
        s3_config.post_object_max_file_size = config.post_object_max_bytes;
        b.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(
            s3_config,
        ))));
        if !config.domains.is_empty() {
            b.set_host(FrontHost::new(&config.domains));
        }
        b
    };
    let mut b = builder();
    b.set_auth(FrontAuth::new(&config.users));
    b.set_route(Routes {
        ignored_range: IgnoredRange::new(builder().build()),
        allow_anonymous: config.allow_anonymous,
        front: front.clone(),
    });
    if config.allow_anonymous {
        b.set_access(AllowAnonymous);
    }
    (b.build(), front)
}

/// The front's custom routes (s3s takes one route; this one dispatches).
struct Routes {
    /// Requests whose Range S3 would ignore.
    ignored_range: IgnoredRange,
    /// Whether unsigned requests are let through (the front's `allow_anonymous`).
    allow_anonymous: bool,
    /// Preflights (`OPTIONS`), which browsers send unsigned.
    front: Arc<Front>,
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
            || method == http::Method::OPTIONS
            || self
                .ignored_range
                .is_match(method, uri, headers, extensions)
    }

    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        if req.method == http::Method::OPTIONS {
            return Ok(());
        }
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
        if req.method == http::Method::OPTIONS {
            let host = req
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            let (bucket, _, _) = self.front.host.bucket_and_key(host, req.uri.path());
            return self.front.cors.preflight(&bucket, &req.headers).await;
        }
        self.ignored_range.call(req).await
    }
}
