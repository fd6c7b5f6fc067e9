//! rebucket's S3 front, the first step of the request path (front → gateway → upstream): the
//! s3s service ([`service`]) with the front's identities ([`FrontAuth`]) and host names
//! ([`FrontHost`]), wrapped in the front's HTTP layer ([`FrontLayer`]), and what it does that
//! s3s alone does not:
//! - requests S3 answers differently, taken as s3s custom routes after the signature check
//!   (unknown methods, [`IgnoredRange`]);
//! - s3s's differences from S3 fixed on the HTTP layer around s3s ([`Parity`]);
//! - how a request reached the front ([`FrontOrigin`]), for answers that hand out a URL;
//! - browsers' cross-origin requests ([`Cors`]): preflights as a custom route, the
//!   `Access-Control-*` headers of other requests on the HTTP layer ([`FollowUp`]).

mod auth;
mod cors;
mod error;
mod host;
mod layer;
mod parity;
mod range;

pub use auth::{FrontAccess, FrontAuth};
pub use cors::{Cors, CorsRules, FollowUp};
pub use error::FrontError;
pub use host::FrontHost;
pub use layer::FrontLayer;
pub use parity::Parity;
pub use range::IgnoredRange;

use crate::gateway::FrontOrigin;
use crate::listener::IdleBodies;

use std::sync::Arc;

use s3s::service::S3ServiceBuilder;
use s3s::{Body, S3Request, S3Response, S3Result};

use crate::config::ServeConfig;
use crate::gateway::Gateway;

/// What the front's HTTP layer and routes share.
struct Front {
    host: FrontHost,
    cors: Arc<Cors>,
    /// For the metrics and whether a bucket is registered (the metrics' bucket label).
    gateway: Gateway,
}

/// The S3 front's service over `gateway`, as `config` sets it up: s3s, its request bodies
/// bounded in idle time, inside the front's HTTP layer.
pub fn service(config: &ServeConfig, gateway: Gateway) -> FrontLayer<IdleBodies> {
    let front = Arc::new(Front {
        host: FrontHost::new(&config.domains),
        cors: Arc::new(Cors::new(Arc::new(gateway.clone()))),
        gateway: gateway.clone(),
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
    b.set_access(FrontAccess {
        allow_anonymous: config.allow_anonymous,
    });
    let s3 = IdleBodies::new(b.build(), config.front_limits.body_idle_timeout);
    FrontLayer::new(s3, front)
}

#[async_trait::async_trait]
impl CorsRules for Gateway {
    async fn cors_rules(&self, bucket: &str) -> S3Result<Option<Vec<s3s::dto::CORSRule>>> {
        self.bucket_cors(bucket).await
    }
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
            None => Err(FrontError::SignatureRequired.into()),
        }
    }

    async fn call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        if unknown_method(&req.method) {
            return Err(FrontError::MethodNotAllowed(req.method).into());
        }
        if req.method == http::Method::OPTIONS {
            crate::metrics::request::set_operation("PreflightObject");
            let host = req
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            let (bucket, _, _) = self.front.host.bucket_and_key(host, req.uri.path());
            return self.front.cors.preflight(&bucket, &req.headers).await;
        }
        crate::metrics::request::set_operation(if req.method == http::Method::HEAD {
            "HeadObject"
        } else {
            "GetObject"
        });
        self.ignored_range.call(req).await
    }
}
