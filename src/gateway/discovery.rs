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
//! - a look-up in flight while a client creates or deletes its bucket through rebucket is
//!   stale: what it found may be from before the change (the bucket answered HeadBucket, then
//!   was deleted; or was missing, then created), so it records nothing — no region into the
//!   registry (a deleted bucket is not registered again), no failure into the negative cache
//!   (a created bucket is not held back) — and later look-ups are not merged into it.
//!   CreateBucket and DeleteBucket themselves start no look-up (the bucket is about to change);
//!   a created bucket is looked up once it exists.
//! - a region is what this process learned on its own (`Registry::learn`): with a registry
//!   shared by several replicas it stays in this replica's memory, so replicas discovering the
//!   same bucket make no registry write (no write storm); with the local file it is stored.
//!
//! The operator's look-ups (admin API) skip the negative cache and the budget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
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

/// One look-up in flight: its result, shared by the callers merged into it, and whether its
/// bucket was created or deleted through rebucket meanwhile (then what it finds is stale).
struct Flight {
    bucket: String,
    result: OnceCell<Result<Found, DiscoveryError>>,
    stale: AtomicBool,
}

impl Flight {
    fn is_stale(&self) -> bool {
        self.stale.load(Ordering::SeqCst)
    }
}

type Shared = Arc<Flight>;

/// Removes a flight from the map of look-ups in flight when dropped; only that flight (a stale
/// one may have been replaced by a newer look-up under the same key).
struct Leave<'a> {
    in_flight: &'a Mutex<HashMap<String, Shared>>,
    key: String,
    flight: Shared,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut in_flight = lock(self.in_flight);
        if in_flight
            .get(&self.key)
            .is_some_and(|c| Arc::ptr_eq(c, &self.flight))
        {
            in_flight.remove(&self.key);
        }
    }
}

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

    /// `bucket` was created or deleted: its look-ups in flight go stale and leave the map, so
    /// later look-ups start afresh instead of being merged into them.
    fn changed(&self, bucket: &str) {
        lock(&self.in_flight).retain(|_, flight| {
            if flight.bucket != bucket {
                return true;
            }
            flight.stale.store(true, Ordering::SeqCst);
            false
        });
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
                    let cell = Arc::new(Flight {
                        bucket: route.bucket.clone(),
                        result: OnceCell::new(),
                        stale: AtomicBool::new(false),
                    });
                    in_flight.insert(key.clone(), cell.clone());
                    (cell, true)
                }
            }
        };
        // The flight leaves the map when its first caller is done, also when that caller is
        // dropped mid-way (a client's request ended): a flight left behind would answer every
        // later look-up of the key with its one result.
        let _leave = first.then(|| Leave {
            in_flight: &discovery.in_flight,
            key,
            flight: cell.clone(),
        });
        let res = cell
            .result
            .get_or_init(|| self.look_up_once(route, &cell))
            .await
            .clone();
        res.map(|found| found.region)
    }

    /// One HeadBucket on the upstream, and the region recorded if it may be (and `flight` has
    /// not gone stale).
    async fn look_up_once(&self, route: &Route, flight: &Shared) -> Result<Found, DiscoveryError> {
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
                if !flight.is_stale() {
                    self.inner.discovery.remember(&route.bucket, true);
                }
                return Err(DiscoveryError::NoSuchBucket {
                    backend: route.backend.clone(),
                    route: route.describe(),
                });
            }
            Lookup::Failed(why) => {
                if !flight.is_stale() {
                    self.inner.discovery.remember(&route.bucket, true);
                }
                return Err(DiscoveryError::Failed {
                    route: route.describe(),
                    why,
                });
            }
        };
        // A refusal is a failure for the negative cache: the region helps the request at
        // hand, but the bucket is not looked up again on every request.
        if !flight.is_stale() {
            self.inner.discovery.remember(&route.bucket, !found.record);
        }
        if found.record {
            self.record_region(route, before.as_ref(), &found.region, flight)
                .await;
        }
        Ok(found)
    }

    /// Records `region` for `route`'s bucket if its registration is still `before` (in routing)
    /// and `flight` has not gone stale.
    async fn record_region(
        &self,
        route: &Route,
        before: Option<&BucketProps>,
        region: &str,
        flight: &Shared,
    ) {
        let bucket = route.bucket.clone();
        let before = before.cloned();
        let flight = flight.clone();
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
                // Checked under the registry's writer lock: a DeleteBucket marks the flight
                // stale before it removes the registration, so either that removal comes after
                // this write, or this write sees the mark.
                if flight.is_stale() {
                    return Ok(());
                }
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

    /// A bucket a client just created through rebucket exists now: look-ups of it in flight
    /// are stale (they may have found it missing), a failed look-up is forgotten, and it is
    /// looked up anew, so it is registered (and its CORS rules readable by preflights) without
    /// waiting for the negative cache to expire.
    pub(super) fn bucket_created(&self, bucket: &str) {
        self.inner.discovery.changed(bucket);
        self.inner.discovery.remember(bucket, false);
        if let Ok(route) = self.route(bucket) {
            tracing::debug!(bucket, region = %route.key.region, "created bucket looked up");
        }
    }

    /// A client just deleted `bucket` through rebucket: look-ups of it in flight are stale
    /// (they may have found it before it went), so none of them registers it again. Called
    /// before the registration is removed.
    pub(super) fn bucket_deleted(&self, bucket: &str) {
        self.inner.discovery.changed(bucket);
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
