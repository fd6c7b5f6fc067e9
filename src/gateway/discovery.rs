//! Discovery: a bucket used for the first time (or whose routing properties changed) is looked
//! up on its upstream with HeadBucket and registered with its `x-amz-bucket-region`, so later
//! requests are signed for the right region. Look-ups run in the background, at most one per
//! bucket at a time, and no more than one every few seconds for a bucket whose look-ups fail.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Gateway;
use crate::registry::{EndpointPolicy, PropKey};
use crate::upstream::region::{self, Lookup};
use crate::upstream::route::Route;

/// How long a failed look-up blocks the next one for the same bucket.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Why a bucket's region could not be found; safe to show (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The upstream says there is no such bucket.
    #[error("region lookup: no bucket {backend:?} upstream for {route}")]
    NoSuchBucket { backend: String, route: String },
    /// The upstream could not be asked, or refused.
    #[error("region lookup for {route}: {why}")]
    Failed { route: String, why: String },
}

/// When discovery of a bucket last started (cleared on success).
#[derive(Default)]
pub(super) struct Discovery {
    started: Mutex<HashMap<String, Instant>>,
}

impl Gateway {
    /// Looks `route`'s bucket up on its upstream (HeadBucket) and records its region in the
    /// registry — unless the bucket's routing properties changed meanwhile. Returns the region.
    pub async fn look_up_region(&self, route: &Route) -> Result<String, DiscoveryError> {
        let before = self
            .inner
            .registry
            .snapshot()
            .buckets
            .get(&route.bucket)
            .cloned()
            .unwrap_or_default();
        let client = self.inner.pool.client(&route.key);
        let lookup = region::lookup(&client, &route.backend).await;
        self.inner
            .metrics
            .discovery(matches!(lookup, Lookup::Found(_)));
        let region = match lookup {
            Lookup::Found(region) => region.unwrap_or_else(|| route.key.region.clone()),
            Lookup::Missing => {
                return Err(DiscoveryError::NoSuchBucket {
                    backend: route.backend.clone(),
                    route: route.describe(),
                });
            }
            Lookup::Failed(why) => {
                return Err(DiscoveryError::Failed {
                    route: route.describe(),
                    why,
                });
            }
        };
        let recorded = region.clone();
        let res = self.inner.registry.update(|state| {
            let props = state.buckets.entry(route.bucket.clone()).or_default();
            if props.routing_changed(&before) {
                return Ok(());
            }
            props
                .set(PropKey::CloudRegion, &recorded, &EndpointPolicy::default())
                .map(drop)
        });
        if let Err(e) = res {
            tracing::warn!(bucket = %route.bucket, error = %e, "cannot record the bucket's region");
        }
        Ok(region)
    }

    /// Discovers a bucket in the background (see the module doc for the bounds).
    pub(super) fn spawn_discovery(&self, route: Route) {
        if route.bucket.is_empty() {
            return;
        }
        {
            let mut started = self.started_lookups();
            if started
                .get(&route.bucket)
                .is_some_and(|t| t.elapsed() < RETRY_AFTER)
            {
                return;
            }
            // Names that failed (no such bucket) are kept only as long as they block a retry:
            // anonymous requests (preflights) must not grow this without bound.
            started.retain(|_, t| t.elapsed() < RETRY_AFTER);
            started.insert(route.bucket.clone(), Instant::now());
        }
        let this = self.clone();
        tokio::spawn(async move {
            match this.look_up_region(&route).await {
                Ok(region) => {
                    tracing::debug!(bucket = %route.bucket, %region, "bucket discovered");
                    this.started_lookups().remove(&route.bucket);
                }
                Err(why) => tracing::debug!(%why, "bucket discovery failed"),
            }
        });
    }

    fn started_lookups(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.inner
            .discovery
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}
