//! The admin API: JSON over HTTP on `--admin-listen`, a bearer token on every call (compared in
//! constant time), never a secret in any answer. The CLI's operator verbs are its clients.
//!
//! | method & path                    | does                                                   |
//! |----------------------------------|--------------------------------------------------------|
//! | `GET /v1/health`                 | liveness (no token)                                    |
//! | `GET /healthz`                   | liveness for probes: `ok` as text/plain (no token)     |
//! | `GET /v1/buckets`                | registered buckets with their props and upstream       |
//! | `GET /v1/buckets/{b}`            | one bucket: every prop and the route it resolves to    |
//! | `PUT /v1/buckets/{b}`            | add (`{"props":{..},"force":bool}`), then look it up   |
//! | `DELETE /v1/buckets/{b}`         | remove the registration (the upstream bucket stays)    |
//! | `PATCH /v1/buckets/{b}/props`    | set props (`{"props":{..},"force":bool}`)              |
//! | `DELETE /v1/buckets/{b}/props`   | reset props (`{"names":[..]}`, all when empty)         |
//! | `POST /v1/reload-creds`          | re-read the AWS shared files now                       |
//! | `GET /v1/profiles`               | profile names                                          |

mod handlers;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::gateway::Gateway;
use crate::registry::EndpointPolicy;

/// Why an admin call failed; one place maps it to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Missing or wrong token.
    #[error("a valid admin token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    /// No such route.
    #[error("no such admin endpoint: {0}")]
    NotFound(String),
    /// The bucket is not registered.
    #[error("bucket {0:?} is not registered")]
    NoSuchBucket(String),
    /// The request is malformed or a value is refused.
    #[error("{0}")]
    BadRequest(String),
    /// The bucket is registered already.
    #[error("bucket {0:?} is registered already (use `bucket props set` to change it)")]
    Conflict(String),
    /// The change could not be persisted.
    #[error("{0}")]
    Internal(String),
}

impl AdminError {
    fn status(&self) -> http::StatusCode {
        match self {
            Self::Unauthorized => http::StatusCode::UNAUTHORIZED,
            Self::NotFound(_) | Self::NoSuchBucket(_) => http::StatusCode::NOT_FOUND,
            Self::BadRequest(_) => http::StatusCode::BAD_REQUEST,
            Self::Conflict(_) => http::StatusCode::CONFLICT,
            Self::Internal(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<crate::registry::RegistryError> for AdminError {
    fn from(e: crate::registry::RegistryError) -> Self {
        match e {
            crate::registry::RegistryError::Invalid(m) => Self::BadRequest(m),
            crate::registry::RegistryError::NoSuchBucket(b) => Self::NoSuchBucket(b),
            crate::registry::RegistryError::AlreadyRegistered(b) => Self::Conflict(b),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Body of `PUT /v1/buckets/{b}` and `PATCH /v1/buckets/{b}/props`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetProps {
    #[serde(default)]
    pub props: BTreeMap<String, String>,
    /// Accept a profile that is not in the AWS files (yet).
    #[serde(default)]
    pub force: bool,
}

/// Body of `DELETE /v1/buckets/{b}/props`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetProps {
    #[serde(default)]
    pub names: Vec<String>,
}

/// The admin HTTP service.
#[derive(Clone)]
pub struct AdminService {
    inner: Arc<Inner>,
}

struct Inner {
    gateway: Gateway,
    token: String,
    policy: EndpointPolicy,
}

const MAX_BODY: usize = 1 << 20;

impl AdminService {
    pub fn new(gateway: Gateway, token: String, endpoint_allowlist: Option<Vec<String>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                gateway,
                token,
                policy: EndpointPolicy {
                    allowlist: endpoint_allowlist,
                },
            }),
        }
    }

    fn authorized(&self, headers: &http::HeaderMap) -> bool {
        use subtle::ConstantTimeEq;
        let Some(given) = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        given.as_bytes().ct_eq(self.inner.token.as_bytes()).into()
    }

    async fn handle(self, req: http::Request<hyper::body::Incoming>) -> Result<Value, AdminError> {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        if parts.method == http::Method::GET && segments == ["v1", "health"] {
            return Ok(json!({"status": "ok"}));
        }
        if !self.authorized(&parts.headers) {
            return Err(AdminError::Unauthorized);
        }
        let body = http_body_util::Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| AdminError::BadRequest(format!("cannot read the request body: {e}")))?
            .to_bytes();
        let h = handlers::Handlers {
            gateway: &self.inner.gateway,
            policy: &self.inner.policy,
        };
        let m = &parts.method;
        match (m.as_str(), segments.as_slice()) {
            ("GET", ["v1", "buckets"]) => Ok(h.list()),
            ("GET", ["v1", "buckets", b]) => h.show(b),
            ("PUT", ["v1", "buckets", b]) => h.add(b, parse(&body)?).await,
            ("DELETE", ["v1", "buckets", b]) => h.remove(b),
            ("PATCH", ["v1", "buckets", b, "props"]) => h.set(b, parse(&body)?).await,
            ("DELETE", ["v1", "buckets", b, "props"]) => h.reset(b, parse(&body)?).await,
            ("POST", ["v1", "reload-creds"]) => h.reload_creds(),
            ("GET", ["v1", "profiles"]) => Ok(h.profiles()),
            _ => Err(AdminError::NotFound(format!("{m} {path}"))),
        }
    }
}

fn parse<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, AdminError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| AdminError::BadRequest(format!("invalid JSON body: {e}")))
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for AdminService {
    type Response = http::Response<s3s::Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            // Liveness for container health checks and probes: plain `ok`, no token.
            if req.method() == http::Method::GET && req.uri().path() == "/healthz" {
                let ok = http::Response::builder().header(http::header::CONTENT_TYPE, "text/plain");
                return Ok(ok
                    .body(s3s::Body::from("ok\n".to_owned()))
                    .unwrap_or_default());
            }
            let (status, value) = match this.handle(req).await {
                Ok(v) => (http::StatusCode::OK, v),
                Err(e) => (e.status(), json!({"error": e.to_string()})),
            };
            let body = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
            Ok(http::Response::builder()
                .status(status)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(s3s::Body::from(body))
                .unwrap_or_default())
        })
    }
}
