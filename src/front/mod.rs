//! rebucket's S3 front, the first step of the request path (front → gateway → upstream): the
//! s3s service ([`service`]) with the front's identities ([`FrontAuth`], [`Callers`]: the
//! operator's users and the registry's, with their grants) and host names
//! ([`FrontHost`]), wrapped in the front's HTTP layer ([`FrontLayer`]), and what it does that
//! s3s alone does not:
//! - requests S3 answers differently, taken as s3s custom routes after the signature check
//!   (unknown methods, [`IgnoredRange`]);
//! - plain signed GETs, HEADs and uploads of objects, taken as a custom route for the
//!   gateway's lean path (`lean`), which skips s3s's input parsing and the SDK;
//! - s3s's differences from S3 fixed on the HTTP layer around s3s ([`Parity`]);
//! - how a request reached the front ([`FrontOrigin`]), for answers that hand out a URL;
//! - browsers' cross-origin requests ([`Cors`]): preflights as a custom route, the
//!   `Access-Control-*` headers of other requests on the HTTP layer ([`FollowUp`]);
//! - what the signature and access checks decided ([`Verdict`]): the CORS follow-up runs only
//!   for requests they let in, anonymous callers get errors without details, and an unsigned
//!   POST form is refused before s3s reads its file (unless its bucket is `anonymous=forward`);
//! - what unsigned callers may do ([`AnonymousAccess`]): `allow_anonymous` and the buckets'
//!   `anonymous` property.

mod access;
mod anonymous;
mod auth;
mod callers;
mod cors;
mod error;
mod form;
mod host;
mod layer;
mod lean;
mod parity;
mod range;
mod verdict;

pub use access::{FrontAccess, PERMISSIONS};
pub use anonymous::AnonymousAccess;
pub use auth::FrontAuth;
pub use callers::Callers;
pub use cors::{Cors, CorsRules, FollowUp, Reach};
pub use error::FrontError;
pub use form::FormCheck;
pub use host::FrontHost;
pub use layer::FrontLayer;
pub use parity::Parity;
pub use range::IgnoredRange;
pub use verdict::{Caller, Verdict};

use crate::gateway::{FrontOrigin, LeanUpload};
use crate::listener::IdleBodies;
use crate::registry::Permission;

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
    /// The memory POST forms in flight may hold, in KiB (`post_object_memory_bytes`).
    post_forms: Arc<tokio::sync::Semaphore>,
    /// The most one form may hold, in KiB (`post_object_max_bytes`).
    post_form_max_kib: u32,
}

/// The S3 front's service over `gateway`, as `config` sets it up: s3s, its request bodies
/// bounded in idle time, inside the front's HTTP layer.
pub fn service(config: &ServeConfig, gateway: Gateway) -> FrontLayer<IdleBodies<FormCheck>> {
    let front = Arc::new(Front {
        host: FrontHost::new(&config.domains),
        cors: Arc::new(Cors::new(Arc::new(gateway.clone()))),
        gateway: gateway.clone(),
        post_forms: Arc::new(tokio::sync::Semaphore::new(
            kib(config.post_object_memory_bytes) as usize,
        )),
        post_form_max_kib: kib(config.post_object_max_bytes),
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
    let callers = Arc::new(Callers::new(&config.users, gateway.registry().clone()));
    let mut b = builder();
    b.set_auth(FrontAuth::new(callers.clone()));
    let anonymous = AnonymousAccess::new(config.allow_anonymous, gateway.registry().clone());
    b.set_route(Routes {
        ignored_range: IgnoredRange::new(builder().build()),
        anonymous: anonymous.clone(),
        front: front.clone(),
        callers: callers.clone(),
    });
    b.set_access(FrontAccess { anonymous, callers });
    let s3 = IdleBodies::new(
        FormCheck::new(b.build()),
        config.front_limits.body_idle_timeout,
    );
    FrontLayer::new(s3, front)
}

/// `bytes` in KiB, rounded up, capped to what a semaphore counts.
fn kib(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(1024))
        .unwrap_or(u32::MAX)
        .min(u32::try_from(tokio::sync::Semaphore::MAX_PERMITS).unwrap_or(u32::MAX))
}

#[async_trait::async_trait]
impl CorsRules for Gateway {
    async fn cors_rules(
        &self,
        bucket: &str,
        reach: Reach,
    ) -> S3Result<Option<Vec<s3s::dto::CORSRule>>> {
        self.bucket_cors(bucket, reach == Reach::Any).await
    }
}

/// The front's custom routes (s3s takes one route; this one dispatches).
struct Routes {
    /// Requests whose Range S3 would ignore.
    ignored_range: IgnoredRange,
    /// What unsigned requests may do (`allow_anonymous`, the buckets' `anonymous` property).
    anonymous: AnonymousAccess,
    /// Preflights (`OPTIONS`), which browsers send unsigned.
    front: Arc<Front>,
    /// The users and their grants: a request with an ignored Range is a GetObject or
    /// HeadObject, which needs `read` on its bucket.
    callers: Arc<Callers>,
}

/// The request's `Host` header (`""` when missing or not text).
fn host(headers: &http::HeaderMap) -> &str {
    headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
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

/// A POST form upload (`multipart/form-data`) that s3s found no signature in. s3s reads a form's
/// fields up to its file, checks the signature they carry (`x-amz-signature` or `signature`),
/// then reads the whole file into memory and only then runs its access check (s3s 0.14,
/// `src/ops/mod.rs`, `prepare`). Its custom route is matched between the two, so taking such a
/// form as a route refuses it (`403 AccessDenied`, see `check_access`) before its file is read:
/// `Routes::is_match` takes it unless unsigned callers may write to its bucket.
fn unsigned_form(method: &http::Method, headers: &http::HeaderMap) -> bool {
    is_form(method, headers) && !Verdict::current_is_signed()
}

impl Routes {
    /// The bucket a request names, as s3s reads it (path-style, or virtual-hosted under the
    /// front's domains); `None` when it names none.
    fn bucket_of<'u>(
        &self,
        uri: &'u http::Uri,
        headers: &http::HeaderMap,
    ) -> Option<std::borrow::Cow<'u, str>> {
        let host = Some(host(headers))
            .filter(|h| !h.is_empty())
            .or_else(|| uri.authority().map(http::uri::Authority::as_str))
            .unwrap_or("");
        let (bucket, _, _) = self.front.host.bucket_and_key(host, uri.path());
        (!bucket.is_empty()).then_some(bucket)
    }

    /// The permission a request taken by a route needs: `read` for GET and HEAD (a Range S3
    /// ignores, the lean path), `write` for anything else (a lean upload, a POST form, an
    /// unknown method).
    fn needed(method: &http::Method) -> Permission {
        if method == http::Method::GET || method == http::Method::HEAD {
            Permission::Read
        } else {
            Permission::Write
        }
    }
}

impl Routes {
    /// Whether the lean path takes an upload: its plan, kept in the request's extensions for
    /// [`S3Route::call`](s3s::route::S3Route::call).
    fn take_upload(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        extensions: &mut http::Extensions,
    ) -> bool {
        match lean::lean_upload(&self.front.gateway, &self.front.host, method, uri, headers) {
            Some(upload) => {
                extensions.insert(upload);
                true
            }
            None => false,
        }
    }
}

/// A POST form upload (`multipart/form-data`).
fn is_form(method: &http::Method, headers: &http::HeaderMap) -> bool {
    method == http::Method::POST
        && headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            })
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
            || (unsigned_form(method, headers)
                && !self
                    .anonymous
                    .permits(self.bucket_of(uri, headers).as_deref(), Permission::Write))
            || self
                .ignored_range
                .is_match(method, uri, headers, extensions)
            || (self.front.gateway.lean_path_on()
                && lean::is_lean_read(&self.front.host, method, uri, headers))
            || self.take_upload(method, uri, headers, extensions)
    }

    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        if req.method == http::Method::OPTIONS {
            // Answered from rules already known, never on the caller's behalf upstream (see
            // `Cors::preflight`); not admitted for anything else.
            return Ok(());
        }
        let signed = req.credentials.is_some();
        if !signed {
            let bucket = self.bucket_of(&req.uri, &req.headers);
            if !self.anonymous.lets_in(bucket.as_deref()) {
                return Err(FrontError::SignatureRequired.into());
            }
            Verdict::admit(&req.extensions, signed);
            let needed = Self::needed(&req.method);
            return self
                .anonymous
                .allow(bucket.as_deref(), needed, &mut req.extensions);
        }
        if req.method == http::Method::GET
            || req.method == http::Method::HEAD
            || req.extensions.get::<LeanUpload>().is_some()
        {
            // The ignored-Range route and the lean path: a GetObject or HeadObject the inner
            // service runs without access checks, or an upload the gateway sends itself, so
            // its permission is checked here.
            let bucket = self.bucket_of(&req.uri, &req.headers);
            self.callers.allow(
                req.credentials.as_ref(),
                bucket.as_deref(),
                Self::needed(&req.method),
            )?;
        }
        Verdict::admit(&req.extensions, signed);
        Ok(())
    }

    async fn call(&self, mut req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        if unknown_method(&req.method) {
            return Err(FrontError::MethodNotAllowed(req.method).into());
        }
        if req.method == http::Method::OPTIONS {
            crate::metrics::request::set_operation("PreflightObject");
            let (bucket, _, _) = self
                .front
                .host
                .bucket_and_key(host(&req.headers), req.uri.path());
            return self.front.cors.preflight(&bucket, &req.headers).await;
        }
        if let Some(upload) = req.extensions.remove::<LeanUpload>() {
            crate::metrics::request::set_operation(upload.operation());
            return lean::send_upload(&self.front.gateway, upload, req).await;
        }
        crate::metrics::request::set_operation(lean::read_operation(
            &self.front.host,
            &req.method,
            &req.uri,
            &req.headers,
        ));
        if IgnoredRange::unusable_range(&req.headers) {
            return self.ignored_range.call(req).await;
        }
        lean::serve(
            &self.front.gateway,
            &self.front.host,
            &self.ignored_range,
            req,
        )
        .await
    }
}
