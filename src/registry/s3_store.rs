//! The registry as one object on S3 (`registry = "s3://BUCKET/KEY"`), shared by every replica:
//! [`S3Store`], behind the same [`Store`] trait as the local file.
//!
//! - **Writes never lose one another.** A change is a PutObject conditional on the object the
//!   writer read: `If-Match: <etag>` to replace it, `If-None-Match: *` to create it. If another
//!   replica wrote first the store answers `412 Precondition Failed` (or `409
//!   ConditionalRequestConflict` for concurrent writes), which is [`RegistryError::Conflict`]:
//!   [`super::Registry::update`] reads the object again, applies its change to what it holds and
//!   tries again. See
//!   [S3 conditional writes](https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html)
//!   and [PutObject](https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html).
//! - **Changes propagate by polling** ([`S3Store::poll`], called by the server every
//!   `registry_poll_ms`): a GetObject with `If-None-Match: <etag of the object last seen>`
//!   costs a `304 Not Modified` without a body while nothing changed
//!   ([GetObject](https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html)).
//! - **An unreachable store stops nothing but changes.** Every request's outcome sets the
//!   store's health (logged on each transition, `rebucket_registry_store_up`, `/readyz`
//!   detail); while it is down, writes fail at once with [`RegistryError::StoreUnavailable`]
//!   (the admin API's 503), and requests keep the snapshot in force.
//! - **A local cached copy** (`registry_cache`, on by default): every state read or written is
//!   also written to `<data-dir>/registry-cache.json`, so a replica that starts while the store
//!   is down starts from it ([`Store::load_at_start`]); without one it refuses to start.
//!
//! The SDK client is made by the server (the registry does not know upstreams) and runs on a
//! runtime of this store's own (one worker thread): [`Store`] is synchronous and called from
//! blocking threads and from async workers alike, so each call waits on a task of that runtime,
//! never on the caller's.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;

use super::{RegistryError, RegistryState, Store, lock};
use crate::metrics::Metrics;

/// Where the shared registry lives: `s3://BUCKET/KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryObject {
    pub bucket: String,
    pub key: String,
}

impl FromStr for RegistryObject {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{s:?}: expected s3://BUCKET/KEY"))?;
        let (bucket, key) = rest
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: expected s3://BUCKET/KEY (no key)"))?;
        bucket
            .parse::<super::BucketName>()
            .map_err(|e| format!("{s:?}: {e}"))?;
        if key.is_empty() || key.ends_with('/') {
            return Err(format!(
                "{s:?}: expected s3://BUCKET/KEY (the key names an object)"
            ));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

impl fmt::Display for RegistryObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// The registry as one object on S3 (see the module doc). Clones share everything.
#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
    runtime: Arc<OwnRuntime>,
}

struct Inner {
    client: aws_sdk_s3::Client,
    object: RegistryObject,
    cache: Option<PathBuf>,
    metrics: Arc<Metrics>,
    /// The object as last read or written: its version and ETag (`None`: not known).
    seen: Mutex<Option<Seen>>,
    health: Mutex<Health>,
}

#[derive(Debug, Clone)]
struct Seen {
    version: u64,
    etag: String,
}

struct Health {
    up: bool,
    since: Instant,
    reason: String,
}

/// The store's runtime, stopped without waiting when the last clone goes.
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// What a GetObject found.
enum Fetched {
    /// `304`: the object is still the one of the ETag given.
    NotModified,
    /// No object: nothing was ever stored.
    Missing,
    Found(RegistryState),
}

/// The condition of a write.
enum Condition {
    /// Replace the object of this ETag.
    IfMatch(String),
    /// Create the object; there is none.
    IfNoneMatch,
}

impl S3Store {
    /// A store of `object` through `client`; `cache` is where the local cached copy is kept
    /// (`None`: none). Makes no request.
    pub fn new(
        client: aws_sdk_s3::Client,
        object: RegistryObject,
        cache: Option<PathBuf>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("registry-store")
            .enable_all()
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                object,
                cache,
                metrics,
                seen: Mutex::new(None),
                health: Mutex::new(Health {
                    up: true,
                    since: Instant::now(),
                    reason: String::new(),
                }),
            }),
            runtime: Arc::new(OwnRuntime(Some(rt))),
        })
    }

    /// The object, as `s3://BUCKET/KEY`.
    pub fn object(&self) -> &RegistryObject {
        &self.inner.object
    }

    /// Asks the store whether the object changed since it was last read or written (a
    /// conditional GET): the newer state if it did, `None` if not. Errors are also recorded in
    /// the store's health.
    pub async fn poll(&self) -> Result<Option<RegistryState>, RegistryError> {
        let inner = self.inner.clone();
        self.spawn(async move {
            let etag = lock(&inner.seen).as_ref().map(|s| s.etag.clone());
            Ok(match inner.fetch(etag).await? {
                Fetched::Found(state) => Some(state),
                Fetched::NotModified | Fetched::Missing => None,
            })
        })
        .await
    }

    /// Runs `fut` on the store's runtime.
    async fn spawn<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, RegistryError>> + Send + 'static,
    ) -> Result<T, RegistryError> {
        let Some(rt) = &self.runtime.0 else {
            return Err(self.inner.unavailable("the store's runtime is stopped"));
        };
        rt.spawn(fut)
            .await
            .map_err(|e| self.inner.unavailable(e.to_string()))?
    }

    /// Runs `fut` on the store's runtime and waits for it on this thread.
    fn block<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, RegistryError>> + Send + 'static,
    ) -> Result<T, RegistryError> {
        let Some(rt) = &self.runtime.0 else {
            return Err(self.inner.unavailable("the store's runtime is stopped"));
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| self.inner.unavailable("the store's runtime is stopped"))?
    }
}

impl Inner {
    fn unavailable(&self, reason: impl fmt::Display) -> RegistryError {
        RegistryError::StoreUnavailable {
            store: self.object.to_string(),
            reason: reason.to_string(),
        }
    }

    /// Records whether the store answered; logs each transition.
    fn mark(&self, res: Result<(), &str>) {
        let mut health = lock(&self.health);
        match res {
            Ok(()) if !health.up => {
                tracing::info!(store = %self.object, down_for = ?health.since.elapsed(), "the shared registry answers again");
                *health = Health {
                    up: true,
                    since: Instant::now(),
                    reason: String::new(),
                };
            }
            Err(reason) if health.up => {
                tracing::error!(store = %self.object, error = reason, "the shared registry is unreachable: serving the last snapshot, admin changes are refused until it answers");
                *health = Health {
                    up: false,
                    since: Instant::now(),
                    reason: reason.to_owned(),
                };
            }
            Err(reason) => reason.clone_into(&mut health.reason),
            Ok(()) => {}
        }
        self.metrics.registry_store_up(health.up);
    }

    /// A failed request: counted, recorded in the health, returned as unavailable.
    fn failed(&self, op: &'static str, reason: String) -> RegistryError {
        self.metrics.registry_store_request(op, "error");
        self.mark(Err(&reason));
        self.unavailable(reason)
    }

    fn remember(&self, state: &RegistryState, etag: Option<&str>) {
        let mut seen = lock(&self.seen);
        // A read that raced with a newer write of this process does not bring its ETag back.
        if seen.as_ref().is_some_and(|s| s.version > state.version) {
            return;
        }
        *seen = etag.map(|etag| Seen {
            version: state.version,
            etag: etag.to_owned(),
        });
        drop(seen);
        self.write_cache(state);
    }

    /// GetObject, conditional on `if_none_match` when given.
    async fn fetch(&self, if_none_match: Option<String>) -> Result<Fetched, RegistryError> {
        let mut req = self
            .client
            .get_object()
            .bucket(&self.object.bucket)
            .key(&self.object.key);
        if let Some(etag) = if_none_match {
            req = req.if_none_match(etag);
        }
        match req.send().await {
            Ok(out) => {
                let etag = out.e_tag().map(str::to_owned);
                let bytes = match out.body.collect().await {
                    Ok(b) => b.into_bytes(),
                    Err(e) => return Err(self.failed("get", e.to_string())),
                };
                self.metrics.registry_store_request("get", "ok");
                self.mark(Ok(()));
                let state: RegistryState =
                    serde_json::from_slice(&bytes).map_err(|e| RegistryError::Corrupt {
                        path: PathBuf::from(self.object.to_string()),
                        reason: e.to_string(),
                    })?;
                self.remember(&state, etag.as_deref());
                Ok(Fetched::Found(state))
            }
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let no_such_key = e.as_service_error().is_some_and(|s| s.is_no_such_key());
                if status == Some(304) {
                    self.metrics.registry_store_request("get", "not_modified");
                    self.mark(Ok(()));
                    Ok(Fetched::NotModified)
                } else if no_such_key {
                    self.metrics.registry_store_request("get", "ok");
                    self.mark(Ok(()));
                    *lock(&self.seen) = None;
                    Ok(Fetched::Missing)
                } else {
                    Err(self.failed("get", DisplayErrorContext(&e).to_string()))
                }
            }
        }
    }

    /// PutObject of `state` under `condition`; a failed precondition is a conflict (its
    /// `found` is filled in by the caller).
    async fn put(&self, state: &RegistryState, condition: Condition) -> Result<(), RegistryError> {
        let mut json = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        json.push(b'\n');
        let req = self
            .client
            .put_object()
            .bucket(&self.object.bucket)
            .key(&self.object.key)
            .content_type("application/json")
            .body(ByteStream::from(json));
        let req = match condition {
            Condition::IfMatch(etag) => req.if_match(etag),
            Condition::IfNoneMatch => req.if_none_match("*"),
        };
        match req.send().await {
            Ok(out) => {
                self.metrics.registry_store_request("put", "ok");
                self.mark(Ok(()));
                self.remember(state, out.e_tag());
                Ok(())
            }
            // 412 PreconditionFailed: the object is not the one read; 409
            // ConditionalRequestConflict: another conditional write of it is in progress.
            Err(e)
                if matches!(
                    e.raw_response().map(|r| r.status().as_u16()),
                    Some(412 | 409)
                ) =>
            {
                self.metrics.registry_store_request("put", "conflict");
                self.mark(Ok(()));
                Err(RegistryError::Conflict {
                    expected: state.version.saturating_sub(1),
                    found: 0,
                })
            }
            Err(e) => Err(self.failed("put", DisplayErrorContext(&e).to_string())),
        }
    }

    async fn load(&self) -> Result<Option<RegistryState>, RegistryError> {
        Ok(match self.fetch(None).await? {
            Fetched::Found(state) => Some(state),
            Fetched::Missing | Fetched::NotModified => None,
        })
    }

    async fn compare_and_swap(
        &self,
        expected: u64,
        next: RegistryState,
    ) -> Result<(), RegistryError> {
        {
            let health = lock(&self.health);
            if !health.up {
                return Err(self.unavailable(&health.reason));
            }
        }
        let known = lock(&self.seen).clone();
        let condition = match known {
            Some(seen) if seen.version == expected => Condition::IfMatch(seen.etag),
            _ => match self.fetch(None).await? {
                Fetched::Found(state) if state.version != expected => {
                    return Err(RegistryError::Conflict {
                        expected,
                        found: state.version,
                    });
                }
                Fetched::Found(_) => match lock(&self.seen).clone() {
                    Some(seen) => Condition::IfMatch(seen.etag),
                    None => return Err(self.unavailable("the store sent no ETag")),
                },
                Fetched::Missing if expected == 0 => Condition::IfNoneMatch,
                Fetched::Missing | Fetched::NotModified => {
                    return Err(RegistryError::Conflict { expected, found: 0 });
                }
            },
        };
        match self.put(&next, condition).await {
            Err(RegistryError::Conflict { .. }) => {
                let found = match self.fetch(None).await {
                    Ok(Fetched::Found(state)) => state.version,
                    _ => 0,
                };
                Err(RegistryError::Conflict { expected, found })
            }
            other => other,
        }
    }

    /// Writes the local cached copy (atomically: a temp file renamed over it; readable by the
    /// owner only, as the registry may hold front users); a failure is logged, never fatal.
    fn write_cache(&self, state: &RegistryState) {
        use std::io::Write;
        let Some(path) = &self.cache else { return };
        let written = serde_json::to_string_pretty(state)
            .map_err(std::io::Error::other)
            .and_then(|json| {
                let tmp = path.with_extension("json.tmp");
                let _ = std::fs::remove_file(&tmp);
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut file = opts.open(&tmp)?;
                file.write_all(json.as_bytes())?;
                file.write_all(b"\n")?;
                std::fs::rename(&tmp, path)
            });
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the registry's local cached copy");
        }
    }

    fn read_cache(&self) -> Option<RegistryState> {
        let path = self.cache.as_ref()?;
        let bytes = std::fs::read(path).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(state) => Some(state),
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "the registry's local cached copy is corrupt; not used");
                None
            }
        }
    }
}

impl Store for S3Store {
    fn load(&self) -> Result<Option<RegistryState>, RegistryError> {
        let inner = self.inner.clone();
        self.block(async move { inner.load().await })
    }

    fn compare_and_swap(
        &self,
        expected_version: u64,
        next: &RegistryState,
    ) -> Result<(), RegistryError> {
        let inner = self.inner.clone();
        let next = next.clone();
        self.block(async move { inner.compare_and_swap(expected_version, next).await })
    }

    /// The object; if the store cannot be reached, the local cached copy (the replica starts
    /// on it, reports the store down, and catches up when it answers); without one, an error.
    fn load_at_start(&self) -> Result<Option<RegistryState>, RegistryError> {
        match self.load() {
            Err(RegistryError::StoreUnavailable { store, reason }) => {
                match self.inner.read_cache() {
                    Some(state) => {
                        tracing::warn!(%store, error = reason, version = state.version, "the shared registry is unreachable: starting from the local cached copy");
                        Ok(Some(state))
                    }
                    None => Err(RegistryError::ColdStart {
                        store,
                        reason,
                        cache: self.inner.cache.as_ref().map_or_else(
                            || "registry_cache = false".to_owned(),
                            |p| p.display().to_string(),
                        ),
                    }),
                }
            }
            other => other,
        }
    }

    fn shared(&self) -> bool {
        true
    }

    /// The version last read or written, without a request: the snapshot is loaded, whether
    /// the store answers is [`Store::health`]'s.
    fn check(&self) -> Result<u64, RegistryError> {
        Ok(lock(&self.inner.seen).as_ref().map_or(0, |s| s.version))
    }

    fn health(&self) -> Option<Result<(), String>> {
        let health = lock(&self.inner.health);
        Some(if health.up {
            Ok(())
        } else {
            Err(format!(
                "{} unreachable for {}s: {}",
                self.inner.object,
                health.since.elapsed().as_secs(),
                health.reason
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_object_is_an_s3_url_naming_a_bucket_and_a_key() {
        let o: RegistryObject = "s3://rebucket-config/replicas/registry.json"
            .parse()
            .unwrap();
        assert_eq!(o.bucket, "rebucket-config");
        assert_eq!(o.key, "replicas/registry.json");
        assert_eq!(o.to_string(), "s3://rebucket-config/replicas/registry.json");
        for bad in [
            "rebucket-config/registry.json",
            "s3://rebucket-config",
            "s3://rebucket-config/",
            "s3://rebucket-config/dir/",
            "s3:///registry.json",
            "s3://Bad_Bucket/registry.json",
        ] {
            assert!(bad.parse::<RegistryObject>().is_err(), "{bad} accepted");
        }
    }
}
