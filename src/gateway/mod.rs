//! The gateway, the second step of the request path (front → gateway → upstream): the
//! `s3s::S3` implementation that routes every operation's bucket and forwards it upstream.
//!
//! Every operation does the same four things — route the bucket(s), rewrite the bucket name to
//! the upstream's, call the upstream through `s3s_aws::Proxy`, map the error — which
//! [`forward`] does once for all; [`ops`] lists every operation with its bucket-renaming rule
//! and generates the plain ones. The operations with more to do have their own module:
//! [`get`] (what GET and HEAD serve; [`lean`] serves the plain ones without the SDK), [`put`] (uploads, with [`body`] watching what the client
//! sends), [`copy`] (copies, possibly across upstreams), [`bucket`] (bucket lifecycle, listing,
//! CORS rules). [`discovery`] looks a bucket up on first use and records its region.
//! [`FrontOrigin`] is how the client reached the front, for answers that hand out a URL; the
//! errors the gateway answers itself are [`GatewayError`]. [`Unsigned`] marks the buckets whose
//! upstream requests an operation sends without credentials (`anonymous=forward`).

mod body;
mod bucket;
mod copy;
mod discovery;
mod error;
mod forward;
mod get;
mod lean;
mod ops;
mod origin;
mod put;
mod unsigned;

pub use discovery::{DEFAULT_DISCOVERY_PER_SECOND, DiscoveryError, NEGATIVE_TTL};
pub use error::{GatewayError, MAX_UPLOAD_SIZE};
pub use lean::{Declined, Lean, LeanOp, LeanRead, LeanUpload, LeanWrite, serve_declined};
pub use ops::OPERATIONS;
pub use origin::{FrontOrigin, object_url};
pub use unsigned::Unsigned;

use std::sync::Arc;

use s3s::S3Result;

use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::upstream::UpstreamPool;
use crate::upstream::error::from_route;
use crate::upstream::route::{Resolver, Route};

/// The status of the upstream's successful answer, as a response extension: s3s's generated
/// operations answer a fixed status, so the front answers this one instead.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamStatus(pub http::StatusCode);

/// The gateway: shared state behind every request.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Arc<Registry>,
    resolver: Arc<Resolver>,
    pool: Arc<UpstreamPool>,
    discovery: discovery::Discovery,
    metrics: Arc<Metrics>,
    /// Whether GET and HEAD may take the lean path (`lean_path`, see [`lean`]).
    lean_path: std::sync::atomic::AtomicBool,
    lean_routes: lean::LeanRoutes,
}

impl Gateway {
    pub fn new(
        registry: Arc<Registry>,
        resolver: Arc<Resolver>,
        pool: Arc<UpstreamPool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                resolver,
                pool,
                discovery: discovery::Discovery::default(),
                metrics,
                lean_path: std::sync::atomic::AtomicBool::new(true),
                lean_routes: lean::LeanRoutes::default(),
            }),
        }
    }

    /// Turns the lean path for GET and HEAD on or off (`lean_path`; on by default).
    pub fn set_lean_path(&self, on: bool) {
        self.inner
            .lean_path
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the lean path is on.
    pub fn lean_path_on(&self) -> bool {
        self.inner
            .lean_path
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The metrics of this gateway.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Whether `bucket` is registered now.
    pub fn is_registered(&self, bucket: &str) -> bool {
        self.inner.registry.snapshot().buckets.contains_key(bucket)
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    pub fn resolver(&self) -> &Arc<Resolver> {
        &self.inner.resolver
    }

    pub fn pool(&self) -> &Arc<UpstreamPool> {
        &self.inner.pool
    }

    /// The route of `bucket` now; starts discovery of a bucket not registered yet. A bucket the
    /// current operation sends unsigned ([`Unsigned`]) gets a route without credentials and no
    /// discovery.
    pub fn route(&self, bucket: &str) -> S3Result<Route> {
        let snapshot = self.inner.registry.snapshot();
        let mut route = self
            .inner
            .resolver
            .route(&snapshot, bucket)
            .map_err(from_route)?;
        if Unsigned::apply(&mut route) {
            return Ok(route);
        }
        if snapshot
            .buckets
            .get(bucket)
            .is_none_or(|p| p.cloud_region.is_none())
        {
            self.spawn_discovery(route.clone());
        }
        Ok(route)
    }

    /// The route of `bucket` as the registry has it now, without starting discovery (without
    /// credentials if the current operation sends the bucket unsigned).
    pub fn route_without_discovery(&self, bucket: &str) -> S3Result<Route> {
        let snapshot = self.inner.registry.snapshot();
        let mut route = self
            .inner
            .resolver
            .route(&snapshot, bucket)
            .map_err(from_route)?;
        Unsigned::apply(&mut route);
        Ok(route)
    }
}
