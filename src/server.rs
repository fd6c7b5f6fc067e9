//! Start-up and listeners: builds the gateway from a [`ServeConfig`], starts the embedded store,
//! the S3 listener (serving the front's service, see `front`), the admin listener and the
//! background tasks (credential-file watch, idle-client eviction, the shared registry's poll).
//! With `registry = "s3://..."` it makes the registry's store an [`S3Store`] reached through an
//! S3 client of its own (the registry does not know upstreams). It wires; what a request
//! goes through lives in the modules it wires together. Every
//! listener's connections are bounded as [`crate::listener`] describes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyper::service::Service;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

use crate::config::ServeConfig;
use crate::config::SharedRegistry;
use crate::gateway::Gateway;
use crate::listener::{Connections, FrontLimits, Refusal};
use crate::metrics::{CountsConnections, Metrics};
use crate::profiles::{ProfileEnv, ProfileSet, ResolveOptions, StaticCredentials};
use crate::registry::{BucketProps, EndpointPolicy, Registry, RegistryState, S3Store};
use crate::upstream::guard::Destinations;
use crate::upstream::route::{Defaults, EmbeddedUpstream, Resolver};
use crate::upstream::{PoolSettings, UpstreamPool};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running gateway: its bound addresses and a handle to stop it.
pub struct Running {
    pub s3_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub gateway: Gateway,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish (up to 10 s).
    pub async fn stop(self) {
        self.gateway.metrics().set_listening(false);
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

/// Starts everything described by `config`; returns once the listeners are bound.
pub async fn start(config: ServeConfig, env: ProfileEnv) -> Result<Running, BoxError> {
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();

    // The embedded store: an s3s-fs upstream on loopback with keys of its own.
    let store_dir = config.data_dir.join("store");
    let store_keys = crate::config::generate_key_pair();
    let store_listener = TcpListener::bind("127.0.0.1:0").await?;
    let store_addr = store_listener.local_addr()?;
    tasks.push(tokio::spawn(serve_store(
        store_listener,
        &store_dir,
        &store_keys,
        shutdown_rx.clone(),
    )?));

    let profiles = match ProfileSet::load(&env) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the AWS shared files; buckets that need a profile will fail until fixed");
            ProfileSet::default()
        }
    };
    let defaults = Defaults {
        endpoint: config.default_endpoint.clone(),
        profile: config.default_profile.clone(),
        env_credentials: config.env_credentials.clone(),
        embedded_fallback: config.embedded_fallback,
        embedded: Some(EmbeddedUpstream {
            endpoint: format!("http://{store_addr}"),
            credentials: StaticCredentials {
                access_key_id: store_keys.access_key,
                secret_access_key: store_keys.secret_key,
                session_token: None,
            },
        }),
    };
    let opts = ResolveOptions {
        allow_credential_process: config.allow_credential_process,
    };
    let resolver = Arc::new(Resolver::new(defaults, env, opts, profiles));
    let metrics = Arc::new(Metrics::new());
    let allowlist = EndpointPolicy {
        allowlist: config.endpoint_allowlist.clone(),
    };
    let destinations = Destinations {
        allow_link_local: config.allow_link_local,
        allowlist: allowlist.clone(),
        exempt: vec![store_addr.to_string()],
    };
    let registry = match &config.shared_registry {
        None => Arc::new(Registry::open(&config.data_dir)?),
        Some(shared) => {
            let store = shared_store(shared, &resolver, &config, destinations.clone(), &metrics)?;
            let opened = store.clone();
            let registry =
                tokio::task::spawn_blocking(move || Registry::open_with_store(Box::new(opened)))
                    .await??;
            let registry = Arc::new(registry);
            tracing::info!(registry = %store.object(), version = registry.snapshot().version, "the registry is shared");
            tasks.push(tokio::spawn(poll_registry(
                store,
                registry.clone(),
                shared.poll_interval,
                shutdown_rx.clone(),
            )));
            registry
        }
    };
    if resolver
        .defaults()
        .embedded_fallback_on(&resolver.profiles(), &registry.snapshot())
    {
        tracing::info!(store = %store_dir.display(), "buckets with no route of their own are served from the embedded store");
    }
    metrics.registry_loaded();
    if let Some(ep) = &config.default_endpoint
        && !allowlist.allows(ep.host(), ep.effective_port())
    {
        tracing::warn!(endpoint = %ep, "the default endpoint is outside endpoint_allowlist: requests to it are refused");
    }
    let pool = Arc::new(UpstreamPool::new(PoolSettings {
        connect_timeout: config.connect_timeout,
        first_byte_timeout: config.upstream_first_byte_timeout,
        transfer_idle_timeout: config.upstream_idle_timeout,
        destinations,
        ..PoolSettings::default()
    }));
    let gateway = Gateway::new(registry, resolver.clone(), pool.clone(), metrics.clone());
    gateway.set_discovery_per_second(config.discovery_per_second);
    gateway.set_lean_path(config.lean_path);

    let s3 = crate::front::service(&config, gateway.clone());
    let s3_listener = TcpListener::bind(config.listen).await?;
    let s3_addr = s3_listener.local_addr()?;
    tasks.push(tokio::spawn(serve_http(
        s3_listener,
        s3,
        shutdown_rx.clone(),
        config.front_limits,
        Refusal::S3,
    )));

    let admin_listener = TcpListener::bind(config.admin_listen).await?;
    let admin_addr = admin_listener.local_addr()?;
    let admin = crate::admin::AdminService::new(
        gateway.clone(),
        config.admin_token.clone(),
        config.endpoint_allowlist.clone(),
    )
    .with_ready_checks_upstream(config.ready_checks_upstream);
    let metrics_only = admin.metrics_only();
    tasks.push(tokio::spawn(serve_http(
        admin_listener,
        admin,
        shutdown_rx.clone(),
        config.front_limits,
        Refusal::Json,
    )));

    if let Some(addr) = config.metrics_listen {
        let listener = TcpListener::bind(addr).await?;
        tracing::info!(metrics_addr = %listener.local_addr()?, "serving /metrics");
        tasks.push(tokio::spawn(serve_http(
            listener,
            metrics_only,
            shutdown_rx.clone(),
            config.front_limits,
            Refusal::Json,
        )));
    }

    tasks.push(tokio::spawn(watch_credentials(
        resolver,
        metrics.clone(),
        shutdown_rx.clone(),
    )));
    tasks.push(tokio::spawn(evict_idle_clients(pool, shutdown_rx)));

    metrics.set_listening(true);
    tracing::info!(%s3_addr, %admin_addr, "rebucket is serving");
    Ok(Running {
        s3_addr,
        admin_addr,
        gateway,
        shutdown,
        tasks,
    })
}

/// How long a request to the shared registry may wait for the store's answer, or pause: a
/// stalled store is reported down within this, not after an upstream's long timeouts.
const REGISTRY_STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// The shared registry's store: an S3 client of its own (its own HTTP connections, the same
/// destination rules as upstreams) for `registry_endpoint` and `registry_profile`, else the
/// default upstream's endpoint and credentials, resolved as a bucket's route is.
fn shared_store(
    shared: &SharedRegistry,
    resolver: &Resolver,
    config: &ServeConfig,
    destinations: Destinations,
    metrics: &Arc<Metrics>,
) -> Result<S3Store, BoxError> {
    let props = BucketProps {
        endpoint: shared.endpoint.clone(),
        profile: shared.profile.clone(),
        ..BucketProps::default()
    };
    let route = resolver
        .route_props(&RegistryState::default(), &shared.object.bucket, &props)
        .map_err(|e| format!("registry = \"{}\": {e}", shared.object))?;
    if route.embedded {
        return Err(format!(
            "registry = \"{}\": no S3 server to keep it on (the embedded store is this replica's \
             own): set registry_endpoint, or S3_ENDPOINT and credentials",
            shared.object
        )
        .into());
    }
    let pool = UpstreamPool::new(PoolSettings {
        connect_timeout: config.connect_timeout,
        first_byte_timeout: REGISTRY_STORE_TIMEOUT,
        transfer_idle_timeout: REGISTRY_STORE_TIMEOUT,
        // The poll is the retry.
        max_attempts: 1,
        destinations,
        ..PoolSettings::default()
    });
    let client = pool.client(&route.key);
    Ok(S3Store::new(
        client,
        shared.object.clone(),
        shared.cache.clone(),
        metrics.clone(),
    )?)
}

/// Asks the shared store every `interval` whether the registry changed (a conditional GET,
/// see `registry::S3Store`) and makes a newer state the snapshot in force; requests in flight
/// finish on the one they started with. A store that does not answer is reported by the store
/// itself (log on each transition, metric, `/readyz`); the next poll catches up.
async fn poll_registry(
    store: S3Store,
    registry: Arc<Registry>,
    interval: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
        match store.poll().await {
            Ok(Some(state)) => {
                let version = state.version;
                let reg = registry.clone();
                if let Ok(true) = tokio::task::spawn_blocking(move || reg.adopt(state)).await {
                    tracing::info!(
                        version,
                        "the shared registry changed: new snapshot in force"
                    );
                }
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "registry poll failed"),
        }
    }
}

/// Serves an s3s-fs store of `dir` (created if missing), checking signatures made with `keys`:
/// the embedded default upstream, and a real upstream for tests and benchmarks.
pub fn serve_store(
    listener: TcpListener,
    dir: &std::path::Path,
    keys: &crate::config::User,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<impl std::future::Future<Output = ()> + Send + 'static, BoxError> {
    std::fs::create_dir_all(dir)?;
    let fs = s3s_fs::FileSystem::new(dir).map_err(|e| format!("store {}: {e:?}", dir.display()))?;
    let mut b = S3ServiceBuilder::new(fs);
    b.set_auth(SimpleAuth::from_single(
        keys.access_key.clone(),
        keys.secret_key.clone(),
    ));
    b.set_access(StoreAccess);
    Ok(serve_http(
        listener,
        b.build(),
        shutdown,
        FrontLimits::default(),
        Refusal::S3,
    ))
}

/// The store's access check: signed requests only (s3s's default), and no key with a `.` or
/// `..` path segment, in the path or in `x-amz-copy-source`. s3s-fs keeps each object as the
/// file its key names under the bucket's directory: such a key names another file (`a/../b`
/// is `b`), and one that leaves the bucket's directory (`..`) panics s3s-fs 0.14's path
/// resolution (path-dedot 3.1, `parse_dot`), dropping the connection. S3 keeps such keys as
/// they are; the store refuses them with `400 InvalidArgument`.
struct StoreAccess;

/// Whether `key` has a `.` or `..` path segment.
fn dot_segments(key: &str) -> bool {
    key.split('/')
        .any(|segment| segment == "." || segment == "..")
}

#[async_trait::async_trait]
impl s3s::access::S3Access for StoreAccess {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> s3s::S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3s::s3_error!(AccessDenied, "Signature is required"));
        }
        let key = match cx.s3_path() {
            s3s::path::S3Path::Object { key, .. } => dot_segments(key),
            _ => false,
        };
        let copy_source = cx
            .headers()
            .get("x-amz-copy-source")
            .map(|v| percent_encoding::percent_decode(v.as_bytes()).decode_utf8_lossy())
            .is_some_and(|source| dot_segments(source.split('?').next().unwrap_or_default()));
        if key || copy_source {
            return Err(s3s::s3_error!(
                InvalidArgument,
                "The embedded store cannot keep a key with a \".\" or \"..\" path segment."
            ));
        }
        Ok(())
    }
}

/// Serves `service` on `listener` until shutdown, each connection bounded by `limits` and
/// refused past them with `refusal` (TCP_NODELAY on every accepted socket).
async fn serve_http<S>(
    listener: TcpListener,
    service: S,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    limits: FrontLimits,
    refusal: Refusal,
) where
    S: Service<http::Request<hyper::body::Incoming>, Response = http::Response<s3s::Body>>
        + CountsConnections
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    let connections = Connections::new(limits, refusal);
    loop {
        let socket = tokio::select! {
            res = listener.accept() => match res {
                Ok((socket, _)) => socket,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let Some((socket, permit)) = connections.admit(socket) else {
            continue;
        };
        let open = service.connection_opened();
        let serving = connections.serve(socket, service.clone(), permit, shutdown.clone());
        tokio::spawn(async move {
            serving.await;
            drop(open);
        });
    }
    connections.drain(Duration::from_secs(10)).await;
}

/// Re-reads the AWS files when they change on disk (checked every 2 s), so rotated keys work
/// without a restart. A file that does not parse leaves the previous version in force.
async fn watch_credentials(
    resolver: Arc<Resolver>,
    metrics: Arc<Metrics>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let stamp = |env: &ProfileEnv| -> Vec<Option<(SystemTime, u64)>> {
        [env.config_file(), env.credentials_file()]
            .iter()
            .map(|p| {
                std::fs::metadata(p)
                    .ok()
                    .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
            })
            .collect()
    };
    let mut last = stamp(resolver.env());
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.changed() => return,
        }
        let now = stamp(resolver.env());
        if now != last {
            let res = resolver.reload_profiles();
            metrics.credential_reload("watch", res.is_ok());
            match res {
                Ok(()) => tracing::info!("AWS shared files changed: profiles reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "AWS shared files changed but do not parse; keeping the previous ones")
                }
            }
            last = now;
        }
    }
}

/// The embedded store's listener counts no connections.
impl CountsConnections for s3s::service::S3Service {}

/// Drops upstream clients nobody used for a while.
async fn evict_idle_clients(
    pool: Arc<UpstreamPool>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = shutdown.changed() => return,
        }
        let left = pool.evict_idle();
        tracing::debug!(clients = left, "evicted idle upstream clients");
    }
}
