//! The admin API: JSON over HTTP on `--admin-listen`, a bearer token on every call (compared in
//! constant time), never a secret in any answer. The CLI's operator verbs are its clients.
//!
//! | method & path                    | does                                                   |
//! |----------------------------------|--------------------------------------------------------|
//! | `GET /v1/health`                 | liveness (no token)                                    |
//! | `GET /healthz`                   | liveness: the process answers (no token)               |
//! | `GET /readyz`                    | readiness: 200 or 503 with each check (no token)       |
//! | `GET /metrics`                   | Prometheus text format (no token)                      |
//! | `GET /v1/buckets`                | registered buckets with their props and upstream       |
//! | `GET /v1/buckets/{b}`            | one bucket: every prop and the route it resolves to    |
//! | `PUT /v1/buckets/{b}`            | add (`{"props":{..},"force":bool}`), then look it up   |
//! | `DELETE /v1/buckets/{b}`         | remove the registration (the upstream bucket stays)    |
//! | `PATCH /v1/buckets/{b}/props`    | set props (`{"props":{..},"force":bool}`)              |
//! | `DELETE /v1/buckets/{b}/props`   | reset props (`{"names":[..]}`, all when empty)         |
//! | `POST /v1/reload-creds`          | re-read the AWS shared files now                       |
//! | `GET /v1/profiles`               | profile names                                          |
//! | `GET /v1/users`                  | front users: name, access key, grants (no secret)      |
//! | `POST /v1/users/{u}`             | add a user; answers its access key and secret, once    |
//! | `GET /v1/users/{u}`              | one user: access key and grants (no secret)            |
//! | `DELETE /v1/users/{u}`           | remove a user                                          |
//! | `POST /v1/users/{u}/rotate-secret` | a new secret (same access key), answered once        |
//! | `PUT /v1/users/{u}/grants`       | grant (`{"bucket":"logs-*","permission":"read"}`)      |
//! | `DELETE /v1/users/{u}/grants`    | revoke (`{"bucket":..}`, `"permission"` optional: all) |
//!
//! A change to the users counts from the S3 front's next request.
//!
//! `/readyz` checks that the stored registry can be loaded, that the listeners are up (with a
//! shared registry, `registry_store` reports whether its store answers, without making the
//! replica unready: it serves its last snapshot), and —
//! when `ready_checks_upstream` is set — that the default upstream accepts a TCP connection
//! (within [`UPSTREAM_CHECK_TIMEOUT`]); the probes of container orchestrators read its status
//! ([Kubernetes probes](https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/)).

mod handlers;
mod users;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::gateway::Gateway;
use crate::metrics::{CountsConnections, Metrics, OpenConnection};
use crate::registry::{BucketProps, EndpointPolicy};

/// How long `/readyz` waits for the default upstream to accept a connection.
pub const UPSTREAM_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

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
    /// No front user has this name.
    #[error("no user {0:?}")]
    NoSuchUser(String),
    /// A user with this name exists already.
    #[error("user {0:?} exists already (`user rotate-secret` gives it a new secret)")]
    UserExists(String),
    /// The change could not be persisted.
    #[error("{0}")]
    Internal(String),
    /// The shared registry's store cannot be reached: changes are refused until it answers
    /// (S3 traffic goes on with the snapshot in force).
    #[error("{0}")]
    Unavailable(String),
}

impl AdminError {
    fn status(&self) -> http::StatusCode {
        match self {
            Self::Unauthorized => http::StatusCode::UNAUTHORIZED,
            Self::NotFound(_) | Self::NoSuchBucket(_) | Self::NoSuchUser(_) => {
                http::StatusCode::NOT_FOUND
            }
            Self::BadRequest(_) => http::StatusCode::BAD_REQUEST,
            Self::Conflict(_) | Self::UserExists(_) => http::StatusCode::CONFLICT,
            Self::Internal(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(_) => http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<crate::registry::RegistryError> for AdminError {
    fn from(e: crate::registry::RegistryError) -> Self {
        match e {
            crate::registry::RegistryError::Invalid(m) => Self::BadRequest(m),
            crate::registry::RegistryError::NoSuchBucket(b) => Self::NoSuchBucket(b),
            crate::registry::RegistryError::AlreadyRegistered(b) => Self::Conflict(b),
            crate::registry::RegistryError::NoSuchUser(u) => Self::NoSuchUser(u),
            crate::registry::RegistryError::UserExists(u) => Self::UserExists(u),
            e @ crate::registry::RegistryError::StoreUnavailable { .. } => {
                Self::Unavailable(e.to_string())
            }
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
    ready_checks_upstream: bool,
    /// Serves `/metrics` only (the `--metrics-listen` listener).
    metrics_only: bool,
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
                ready_checks_upstream: false,
                metrics_only: false,
            }),
        }
    }

    /// Makes `/readyz` also check that the default upstream accepts connections.
    pub fn with_ready_checks_upstream(self, on: bool) -> Self {
        self.with(|i| i.ready_checks_upstream = on)
    }

    /// The same service answering `/metrics` only (404 otherwise), for `--metrics-listen`.
    pub fn metrics_only(&self) -> Self {
        self.clone().with(|i| i.metrics_only = true)
    }

    fn with(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner {
            gateway: self.inner.gateway.clone(),
            token: self.inner.token.clone(),
            policy: self.inner.policy.clone(),
            ready_checks_upstream: self.inner.ready_checks_upstream,
            metrics_only: self.inner.metrics_only,
        };
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    fn metrics(&self) -> &Metrics {
        self.inner.gateway.metrics()
    }

    /// `/metrics`: the values read at scrape time sampled, then the text.
    fn render_metrics(&self) -> String {
        let gw = &self.inner.gateway;
        self.metrics()
            .sample(gw.registry().snapshot().version, gw.pool().cached());
        self.metrics().encode()
    }

    /// `/readyz`: every check with `ok` or why not; ready when all are ok.
    async fn readiness(&self) -> (bool, Value) {
        let mut checks = serde_json::Map::new();
        let mut ready = true;
        let mut check = |name: &str, res: Result<(), String>| {
            ready &= res.is_ok();
            checks.insert(
                name.to_owned(),
                Value::String(res.err().unwrap_or("ok".into())),
            );
        };
        let registry = self.inner.gateway.registry();
        check(
            "registry",
            registry.check_stored().map(drop).map_err(|e| e.to_string()),
        );
        check(
            "listeners",
            if self.metrics().listening() {
                Ok(())
            } else {
                Err("not serving".into())
            },
        );
        if self.inner.ready_checks_upstream {
            check("upstream", self.default_upstream_reachable().await);
        }
        // A shared store that does not answer is reported, not a reason to take the replica out
        // of service: it serves the snapshot in force and only refuses changes.
        if let Some(health) = registry.store_health() {
            checks.insert(
                "registry_store".to_owned(),
                Value::String(match health {
                    Ok(()) => "ok".to_owned(),
                    Err(why) => format!(
                        "degraded: {why}; serving the last snapshot (version {}), changes refused",
                        registry.snapshot().version
                    ),
                }),
            );
        }
        let status = if ready { "ready" } else { "not ready" };
        (ready, json!({"status": status, "checks": checks}))
    }

    /// Whether the default upstream (where an unregistered bucket goes) accepts a TCP
    /// connection.
    async fn default_upstream_reachable(&self) -> Result<(), String> {
        let route = self
            .inner
            .gateway
            .resolver()
            .route_props(
                &self.inner.gateway.registry().snapshot(),
                "",
                &BucketProps::default(),
            )
            .map_err(|e| e.to_string())?;
        let endpoint = route.key.endpoint_display();
        let uri: http::Uri = endpoint
            .parse()
            .map_err(|e| format!("endpoint {endpoint}: {e}"))?;
        let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        match tokio::time::timeout(
            UPSTREAM_CHECK_TIMEOUT,
            tokio::net::TcpStream::connect((host, port)),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("{endpoint}: {e}")),
            Err(_) => Err(format!(
                "{endpoint}: no connection within {UPSTREAM_CHECK_TIMEOUT:?}"
            )),
        }
    }

    /// Answers the probes and `/metrics`, which need no token; `None` for other requests.
    async fn probe(&self, parts: &http::request::Parts) -> Option<http::Response<s3s::Body>> {
        let path = parts.uri.path();
        if parts.method != http::Method::GET {
            return None;
        }
        let (status, content_type, body) = match path {
            "/metrics" => (
                http::StatusCode::OK,
                Metrics::CONTENT_TYPE,
                self.render_metrics(),
            ),
            "/healthz" if !self.inner.metrics_only => (
                http::StatusCode::OK,
                "application/json",
                json_text(&json!({"status": "ok"})),
            ),
            "/readyz" if !self.inner.metrics_only => {
                let (ready, value) = self.readiness().await;
                let status = if ready {
                    http::StatusCode::OK
                } else {
                    http::StatusCode::SERVICE_UNAVAILABLE
                };
                (status, "application/json", json_text(&value))
            }
            _ => return None,
        };
        Some(
            http::Response::builder()
                .status(status)
                .header(http::header::CONTENT_TYPE, content_type)
                .body(s3s::Body::from(body))
                .unwrap_or_default(),
        )
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

    async fn handle(
        self,
        parts: http::request::Parts,
        body: hyper::body::Incoming,
    ) -> Result<Value, AdminError> {
        let path = parts.uri.path().to_owned();
        if self.inner.metrics_only {
            return Err(AdminError::NotFound(format!("{} {path}", parts.method)));
        }
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
            ("DELETE", ["v1", "buckets", b]) => h.remove(b).await,
            ("PATCH", ["v1", "buckets", b, "props"]) => h.set(b, parse(&body)?).await,
            ("DELETE", ["v1", "buckets", b, "props"]) => h.reset(b, parse(&body)?).await,
            ("POST", ["v1", "reload-creds"]) => {
                let res = h.reload_creds();
                self.metrics().credential_reload("admin", res.is_ok());
                res
            }
            ("GET", ["v1", "profiles"]) => Ok(h.profiles()),
            ("GET", ["v1", "users"]) => Ok(h.list_users()),
            ("GET", ["v1", "users", u]) => h.show_user(u),
            ("POST", ["v1", "users", u]) => h.add_user(u).await,
            ("DELETE", ["v1", "users", u]) => h.remove_user(u).await,
            ("POST", ["v1", "users", u, "rotate-secret"]) => h.rotate_secret(u).await,
            ("PUT", ["v1", "users", u, "grants"]) => h.grant(u, parse(&body)?).await,
            ("DELETE", ["v1", "users", u, "grants"]) => h.revoke(u, parse(&body)?).await,
            _ => Err(AdminError::NotFound(format!("{m} {path}"))),
        }
    }
}

fn json_text(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

impl CountsConnections for AdminService {
    fn connection_opened(&self) -> Option<OpenConnection> {
        let listener = if self.inner.metrics_only {
            "metrics"
        } else {
            "admin"
        };
        Some(self.metrics().connection_opened(listener))
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
            let (parts, body) = req.into_parts();
            if let Some(resp) = this.probe(&parts).await {
                return Ok(resp);
            }
            let (status, value) = match this.handle(parts, body).await {
                Ok(v) => (http::StatusCode::OK, v),
                Err(e) => (e.status(), json!({"error": e.to_string()})),
            };
            let body = json_text(&value);
            Ok(http::Response::builder()
                .status(status)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(s3s::Body::from(body))
                .unwrap_or_default())
        })
    }
}
