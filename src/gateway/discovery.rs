//! Discovery: a bucket used for the first time (or whose routing properties changed) is looked
//! up on its upstream with HeadBucket and registered with its `x-amz-bucket-region`, so later
//! requests are signed for the right region.
//!
//! A look-up uses the upstream's credentials on a client's behalf, so it is bounded:
//! - concurrent look-ups of one bucket (same route) are merged into one upstream call;
//! - a failed look-up is remembered for [`NEGATIVE_TTL`]: the bucket is not looked up again on
//!   a client's behalf within that time;
//! - look-ups on clients' behalf share a per-second budget (`discovery_per_second`), so no
//!   caller can turn rebucket into a bucket-name scanner; past it, requests use the route as
//!   it is and nothing is looked up;
//! - a region the upstream names while refusing (`403` with `x-amz-bucket-region`, as S3
//!   answers HeadBucket without permission,
//!   <https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html>) is used for the
//!   request at hand but not recorded: the bucket is not known to be usable;
//! - a region is recorded only if the bucket's registration is still the one the look-up
//!   started from: a registration removed meanwhile (admin `DELETE /v1/buckets/{b}`) stays
//!   removed, one whose routing changed is looked up again by whoever changed it;
//! - a region is what this process learned on its own (`Registry::learn`): with a registry
//!   shared by several replicas it stays in this replica's memory, so replicas discovering the
//!   same bucket make no registry write (no write storm); with the local file it is stored.
//!
//! The operator's look-ups (admin API) skip the negative cache and the budget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::Gateway;
use crate::registry::{BucketProps, Region};
use crate::upstream::region::{self, Lookup};
use crate::upstream::route::Route;

/// How long a failed look-up keeps the bucket from being looked up again on a client's behalf.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(30);

/// Default of `discovery_per_second`: look-ups started per second on clients' behalf.
pub const DEFAULT_DISCOVERY_PER_SECOND: u32 = 10;

/// Why a bucket's region could not be found; safe to show (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The upstream says there is no such bucket.
    #[error("region lookup: no bucket {backend:?} upstream for {route}")]
    NoSuchBucket { backend: String, route: String },
    /// The upstream could not be asked, or refused.
    #[error("region lookup for {route}: {why}")]
    Failed { route: String, why: String },
    /// The bucket failed a look-up less than [`NEGATIVE_TTL`] ago.
    #[error("region lookup for {route}: failed recently, not retried yet")]
    RecentlyFailed { route: String },
    /// The per-second budget of look-ups is spent.
    #[error("region lookup for {route}: too many lookups this second")]
    OverBudget { route: String },
}

/// What a look-up found: the region, and whether it may be recorded.
#[derive(Debug, Clone)]
struct Found {
    region: String,
    record: bool,
}

type Shared = Arc<OnceCell<Result<Found, DiscoveryError>>>;

/// The state of look-ups: in flight (merged), failed (remembered), budget spent this second.
pub(super) struct Discovery {
    in_flight: Mutex<HashMap<String, Shared>>,
    failed: Mutex<HashMap<String, Instant>>,
    budget: Mutex<(Instant, u32)>,
    per_second: AtomicU32,
}

impl Default for Discovery {
    fn default() -> Self {
        Self {
            in_flight: Mutex::default(),
            failed: Mutex::default(),
            budget: Mutex::new((Instant::now(), 0)),
            per_second: AtomicU32::new(DEFAULT_DISCOVERY_PER_SECOND),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Discovery {
    /// Takes one look-up from this second's budget.
    fn spend(&self) -> bool {
        let per_second = self.per_second.load(Ordering::Relaxed);
        let mut budget = lock(&self.budget);
        if budget.0.elapsed() >= Duration::from_secs(1) {
            *budget = (Instant::now(), 0);
        }
        if budget.1 >= per_second {
            return false;
        }
        budget.1 += 1;
        true
    }

    fn failed_recently(&self, bucket: &str) -> bool {
        lock(&self.failed)
            .get(bucket)
            .is_some_and(|t| t.elapsed() < NEGATIVE_TTL)
    }

    fn remember(&self, bucket: &str, failed: bool) {
        let mut map = lock(&self.failed);
        if failed {
            // Expired names go; the budget bounds how many can be added per second.
            map.retain(|_, t| t.elapsed() < NEGATIVE_TTL);
            map.insert(bucket.to_owned(), Instant::now());
        } else {
            map.remove(bucket);
        }
    }
}

/// Who asked for a look-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asker {
    /// A client's request (discovery on first use, a wrong-region redirect): bounded.
    Client,
    /// The operator, through the admin API: neither the negative cache nor the budget apply.
    Operator,
}

impl Gateway {
    /// Sets how many look-ups may start per second on clients' behalf (`discovery_per_second`).
    pub fn set_discovery_per_second(&self, per_second: u32) {
        self.inner
            .discovery
            .per_second
            .store(per_second, Ordering::Relaxed);
    }

    /// Looks `route`'s bucket up on its upstream (HeadBucket) and records its region in the
    /// registry (see the module doc for when it does not). Returns the region. For the
    /// operator: neither the negative cache nor the budget apply.
    pub async fn look_up_region(&self, route: &Route) -> Result<String, DiscoveryError> {
        self.discover(route, Asker::Operator).await
    }

    /// [`Self::look_up_region`] on a client's behalf: bounded as the module doc says.
    pub(super) async fn look_up_region_for_client(
        &self,
        route: &Route,
    ) -> Result<String, DiscoveryError> {
        self.discover(route, Asker::Client).await
    }

    async fn discover(&self, route: &Route, asker: Asker) -> Result<String, DiscoveryError> {
        let discovery = &self.inner.discovery;
        let key = format!(
            "{}\n{}\n{}",
            route.describe(),
            route.backend,
            route.key.region
        );
        let (cell, first) = {
            let mut in_flight = lock(&discovery.in_flight);
            match in_flight.get(&key) {
                Some(cell) => (cell.clone(), false),
                None => {
                    if asker == Asker::Client {
                        if discovery.failed_recently(&route.bucket) {
                            return Err(DiscoveryError::RecentlyFailed {
                                route: route.describe(),
                            });
                        }
                        if !discovery.spend() {
                            return Err(DiscoveryError::OverBudget {
                                route: route.describe(),
                            });
                        }
                    }
                    let cell = Shared::default();
                    in_flight.insert(key.clone(), cell.clone());
                    (cell, true)
                }
            }
        };
        let res = cell.get_or_init(|| self.look_up_once(route)).await.clone();
        if first {
            lock(&discovery.in_flight).remove(&key);
        }
        res.map(|found| found.region)
    }

    /// One HeadBucket on the upstream, and the region recorded if it may be.
    async fn look_up_once(&self, route: &Route) -> Result<Found, DiscoveryError> {
        let before = self
            .inner
            .registry
            .snapshot()
            .buckets
            .get(&route.bucket)
            .cloned();
        let client = self.inner.pool.client(&route.key);
        let lookup = region::lookup(&client, &route.backend).await;
        self.inner
            .metrics
            .discovery(matches!(lookup, Lookup::Found(_)));
        let found = match lookup {
            Lookup::Found(region) => Found {
                region: region.unwrap_or_else(|| route.key.region.clone()),
                record: true,
            },
            Lookup::Refused { region } => Found {
                region,
                record: false,
            },
            Lookup::Missing => {
                self.inner.discovery.remember(&route.bucket, true);
                return Err(DiscoveryError::NoSuchBucket {
                    backend: route.backend.clone(),
                    route: route.describe(),
                });
            }
            Lookup::Failed(why) => {
                self.inner.discovery.remember(&route.bucket, true);
                return Err(DiscoveryError::Failed {
                    route: route.describe(),
                    why,
                });
            }
        };
        // A refusal is a failure for the negative cache: the region helps the request at
        // hand, but the bucket is not looked up again on every request.
        self.inner.discovery.remember(&route.bucket, !found.record);
        if found.record {
            self.record_region(route, before.as_ref(), &found.region)
                .await;
        }
        Ok(found)
    }

    /// Records `region` for `route`'s bucket if its registration is still `before` (in routing),
    /// as learned (see the module doc).
    async fn record_region(&self, route: &Route, before: Option<&BucketProps>, region: &str) {
        let bucket = route.bucket.clone();
        let before = before.cloned();
        let region: Region = match region.parse() {
            Ok(region) => region,
            Err(e) => {
                tracing::warn!(bucket, error = %e, "the upstream named an invalid region; not recorded");
                return;
            }
        };
        let res = self
            .inner
            .registry
            .learn_async(move |state| {
                match (state.buckets.get_mut(&bucket), &before) {
                    // Registered when the look-up started and still, with the same routing.
                    (Some(props), Some(before)) if !props.routing_changed(before) => {
                        props.cloud_region = Some(region.clone());
                    }
                    // Not registered then nor now: discovered.
                    (None, None) => {
                        state.buckets.insert(
                            bucket.clone(),
                            BucketProps {
                                cloud_region: Some(region.clone()),
                                ..BucketProps::default()
                            },
                        );
                    }
                    // Removed meanwhile (stays removed), registered meanwhile or its routing
                    // changed (whoever did it looks it up): nothing to record.
                    _ => {}
                }
                Ok(())
            })
            .await;
        if let Err(e) = res {
            tracing::warn!(bucket = %route.bucket, error = %e, "cannot record the bucket's region");
        }
    }

    /// A bucket a client just created through rebucket exists now: a failed look-up of it
    /// (the one its CreateBucket started) is forgotten and it is looked up again, so it is
    /// registered (and its CORS rules readable by preflights) without waiting for the negative
    /// cache to expire.
    pub(super) fn bucket_created(&self, bucket: &str) {
        self.inner.discovery.remember(bucket, false);
        if let Ok(route) = self.route(bucket) {
            tracing::debug!(bucket, region = %route.key.region, "created bucket looked up");
        }
    }

    /// Discovers a bucket in the background (see the module doc for the bounds).
    pub(super) fn spawn_discovery(&self, route: Route) {
        if route.bucket.is_empty() {
            return;
        }
        let discovery = &self.inner.discovery;
        // Checked here too, so a bucket that failed recently costs no task.
        if discovery.failed_recently(&route.bucket) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            match this.look_up_region_for_client(&route).await {
                Ok(region) => tracing::debug!(bucket = %route.bucket, %region, "bucket discovered"),
                Err(why) => tracing::debug!(%why, "bucket discovery failed"),
            }
        });
    }
}
