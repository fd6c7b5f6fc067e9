//! The bucket registry: bucket name -> properties (`anonymous`, `backend_bck`, `extra.aws.*`),
//! validated once
//! on the way in, kept as an immutable snapshot behind an atomic pointer for the hot path, and
//! persisted crash-safely in the data dir.
//!
//! - [`props`]: the property model: keys ([`PropKey`]), typed values per bucket
//!   ([`BucketProps`]), the endpoint allowlist ([`EndpointPolicy`]);
//! - [`values`]: the value types, each validated once when parsed ([`Endpoint`], ...);
//! - [`store`]: persistence ([`Store`], [`FileStore`]: one file, one replica);
//! - [`s3_store`]: the registry as one object on S3 shared by several replicas ([`S3Store`]:
//!   conditional writes, polled with conditional GETs, a local cached copy);
//! - [`users`]: the front users kept with the buckets ([`FrontUser`], their [`Grants`]).
//! - this file: the live [`Registry`] (snapshots, serialized writers that store only changes
//!   and retry after another process's write, off the async workers with
//!   [`Registry::update_async`]; a newer stored state adopted with [`Registry::adopt`]) and
//!   its errors.
//!
//! **Shared state and local knowledge.** What the operator sets (bucket registrations and
//! their props, users) is *shared*: it is what the store holds. What a process learns on its own
//! (a bucket's region found by discovery) goes through [`Registry::learn`]: with a store of its
//! own (the file) it is stored like any change; with a shared store ([`Store::shared`]) it stays
//! in this replica's memory, laid over the stored state in the snapshot the requests read, so
//! that N replicas discovering the same bucket make no registry write at all (not N). A learned
//! entry holds while the stored registration it was learned on is unchanged; a change of that
//! registration by anyone drops it (the bucket is looked up again on its next use).

#[macro_use]
mod values;
mod props;
mod s3_store;
mod store;
mod users;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

pub use crate::profiles::AddressingStyle;
pub use props::{BucketProps, EndpointPolicy, PropKey, normalize_bucket_arg};
pub use s3_store::{RegistryObject, S3Store};
pub use store::{FileStore, LOCK_FILE, REGISTRY_FILE, Store};
pub use users::{AccessKey, BucketPattern, CallerGrants, FrontUser, Grants, Secret, UserName};
pub use values::{Anonymous, BucketName, Endpoint, InvalidValue, Permission, ProfileName, Region};

/// A refused property change or a registry that cannot be loaded/stored; the message is shown
/// to the operator as is.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Unknown property name, bad value (e.g. `invalid <property> "foo": unsupported scheme ""
    /// (expecting http or https)`).
    #[error("{0}")]
    Invalid(String),
    /// The bucket is not registered.
    #[error("bucket {0:?} is not registered")]
    NoSuchBucket(String),
    /// Persisting failed; nothing changed.
    #[error("cannot persist the registry: {0}")]
    Io(#[from] std::io::Error),
    /// The stored registry cannot be read (other than "does not exist").
    #[error("cannot read the registry file {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The stored registry is not valid; it is left as is for the operator to fix or restore.
    #[error("registry file {} is corrupt: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// Another writer kept changing the stored registry while this process tried to store its
    /// change ([`CONFLICT_RETRIES`] times); nothing was stored.
    #[error(
        "the registry was changed by another writer (expected stored version {expected}, found {found}); reload and retry"
    )]
    Conflict { expected: u64, found: u64 },
    /// A registration was asked to be created for a bucket that has one.
    #[error("bucket {0:?} is registered already (use `bucket props set` to change it)")]
    AlreadyRegistered(String),
    /// No front user has this name.
    #[error("no user {0:?}")]
    NoSuchUser(String),
    /// A user was asked to be created with a name another user has.
    #[error("user {0:?} exists already")]
    UserExists(String),
    /// The shared store cannot be reached (or refuses this process); nothing was stored, and
    /// the snapshot in force stays until the store answers again.
    #[error(
        "the shared registry {store} is unreachable ({reason}); serving the last snapshot, changes are refused until it answers"
    )]
    StoreUnavailable { store: String, reason: String },
    /// The shared store cannot be reached at start and there is no local cached copy to start
    /// from (`registry_cache`): starting on an empty registry would route every bucket wrong.
    #[error(
        "the shared registry {store} is unreachable ({reason}) and there is no local cached copy ({cache}): refusing to start on an empty registry"
    )]
    ColdStart {
        store: String,
        reason: String,
        cache: String,
    },
}

/// How many times [`Registry::update`] reloads and retries after a conflict with another
/// writer before it gives up. Replicas writing at the same time over a shared store each lose
/// most rounds (one writer wins each), so this is generous; retries are spaced by a random
/// pause growing with the attempt (at most 5 ms × attempt), so writers fall out of step.
pub const CONFLICT_RETRIES: u32 = 20;

/// One immutable version of the registry. Its values are typed, so any state is valid; reading
/// one refuses invalid values with an error naming the bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryState {
    pub version: u64,
    #[serde(deserialize_with = "buckets_naming_the_bucket")]
    pub buckets: BTreeMap<String, BucketProps>,
    /// The front users managed at run time (`rebucket user ...`). Absent from files written
    /// before there were any, and left out while there are none.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "users::users_with_distinct_keys"
    )]
    pub users: BTreeMap<UserName, FrontUser>,
}

impl RegistryState {
    /// Whether `bucket` has `read_only=true`: every change to it is refused, for every caller.
    pub fn is_read_only(&self, bucket: &str) -> bool {
        self.buckets
            .get(bucket)
            .is_some_and(|p| p.read_only == Some(true))
    }
}

/// Reads the bucket map; an entry's error is prefixed with `bucket "<name>": `.
fn buckets_naming_the_bucket<'de, D>(d: D) -> Result<BTreeMap<String, BucketProps>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Buckets;
    impl<'de> serde::de::Visitor<'de> for Buckets {
        type Value = BTreeMap<String, BucketProps>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of bucket names to properties")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut buckets = BTreeMap::new();
            while let Some(name) = map.next_key::<String>()? {
                let props = map
                    .next_value::<BucketProps>()
                    .map_err(|e| serde::de::Error::custom(format_args!("bucket {name:?}: {e}")))?;
                buckets.insert(name, props);
            }
            Ok(buckets)
        }
    }
    d.deserialize_map(Buckets)
}

/// The live registry.
pub struct Registry {
    /// What requests read: the stored state with what this replica learned laid over it.
    current: arc_swap::ArcSwap<RegistryState>,
    /// What the store holds, as last read or written.
    stored: arc_swap::ArcSwap<RegistryState>,
    /// What this replica learned on its own and keeps out of a shared store (see the module
    /// doc); always empty with a store of its own. Changed only under `writer`.
    learned: Mutex<BTreeMap<String, Learned>>,
    store: Box<dyn Store>,
    /// Serializes writers (update, learn, adopt, reload); readers never take it.
    writer: Mutex<()>,
}

/// A bucket's props as this replica learned them, and the stored registration (`None`: not
/// registered) they were learned on: they hold while the stored one is still that.
#[derive(Debug, Clone)]
struct Learned {
    on: Option<BucketProps>,
    props: BucketProps,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("current", &self.snapshot())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Opens (or creates) the registry in `data_dir` (`data_dir/registry.json`; a missing file is
    /// an empty registry at version 0, a corrupt one is an error).
    pub fn open(data_dir: &std::path::Path) -> Result<Self, RegistryError> {
        Self::open_with_store(Box::new(FileStore::open(data_dir)?))
    }

    /// Opens the registry kept in `store` (read with [`Store::load_at_start`]).
    pub fn open_with_store(store: Box<dyn Store>) -> Result<Self, RegistryError> {
        let state = Arc::new(store.load_at_start()?.unwrap_or_default());
        Ok(Self {
            current: arc_swap::ArcSwap::new(state.clone()),
            stored: arc_swap::ArcSwap::new(state),
            learned: Mutex::default(),
            store,
            writer: Mutex::new(()),
        })
    }

    /// The current snapshot; requests keep the one they started with.
    pub fn snapshot(&self) -> Arc<RegistryState> {
        self.current.load_full()
    }

    /// The state the store holds, as last read or written (without what this replica learned).
    pub fn stored(&self) -> Arc<RegistryState> {
        self.stored.load_full()
    }

    /// Makes `stored` what the store holds and publishes it with what this replica learned laid
    /// over it; learned entries whose registration changed are dropped. Called under `writer`.
    fn publish(&self, stored: Arc<RegistryState>) -> Arc<RegistryState> {
        self.stored.store(stored.clone());
        let mut learned = lock(&self.learned);
        learned.retain(|bucket, l| stored.buckets.get(bucket) == l.on.as_ref());
        let current = if learned.is_empty() {
            stored
        } else {
            let mut merged = (*stored).clone();
            for (bucket, l) in learned.iter() {
                merged.buckets.insert(bucket.clone(), l.props.clone());
            }
            Arc::new(merged)
        };
        self.current.store(current.clone());
        current
    }

    /// Applies `f` to a copy of the current state, bumps the version, persists, swaps.
    /// Writers are serialized; if `f` fails, the result is invalid, or persisting fails,
    /// nothing changes (neither the snapshot nor the store). A result equal to the current
    /// state stores nothing and keeps the version. If another writer changed the store since
    /// it was read ([`RegistryError::Conflict`]), the store is read again and `f` applied to
    /// what it holds, up to [`CONFLICT_RETRIES`] times.
    ///
    /// It blocks on file I/O (an fsync'd write): from async code, use [`Self::update_async`].
    pub fn update<T>(
        &self,
        mut f: impl FnMut(&mut RegistryState) -> Result<T, RegistryError>,
    ) -> Result<(T, Arc<RegistryState>), RegistryError> {
        let _writer = self.lock_writer();
        let mut attempt = 0;
        loop {
            let current = self.stored.load_full();
            let mut next = (*current).clone();
            let out = f(&mut next)?;
            if next == *current {
                return Ok((out, self.current.load_full()));
            }
            next.version = current.version + 1;
            match self.store.compare_and_swap(current.version, &next) {
                Ok(()) => return Ok((out, self.publish(Arc::new(next)))),
                Err(RegistryError::Conflict { expected, found }) if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(rand::random_range(
                        0..=5 * u64::from(attempt),
                    )));
                    tracing::info!(
                        expected,
                        found,
                        "the registry was changed by another writer; reloading"
                    );
                    let stored = self.store.load()?.unwrap_or_default();
                    self.publish(Arc::new(stored));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// [`Self::update`] on tokio's blocking pool, so async workers never wait on the file.
    pub async fn update_async<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnMut(&mut RegistryState) -> Result<T, RegistryError> + Send + 'static,
    ) -> Result<(T, Arc<RegistryState>), RegistryError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.update(f))
            .await
            .map_err(|e| RegistryError::Io(std::io::Error::other(e.to_string())))?
    }

    /// Records what this process learned on its own (`f`, applied to the current snapshot: a
    /// discovered region). With a store of its own it is [`Self::update`]; with a shared store
    /// ([`Store::shared`]) the buckets `f` changed are kept in this replica's memory only, laid
    /// over the stored state (see the module doc), and nothing is written.
    pub fn learn(
        &self,
        mut f: impl FnMut(&mut RegistryState) -> Result<(), RegistryError>,
    ) -> Result<Arc<RegistryState>, RegistryError> {
        if !self.store.shared() {
            return self.update(f).map(|((), next)| next);
        }
        let _writer = self.lock_writer();
        let current = self.current.load_full();
        let mut next = (*current).clone();
        f(&mut next)?;
        if next == *current {
            return Ok(current);
        }
        let stored = self.stored.load_full();
        {
            let mut learned = lock(&self.learned);
            for (bucket, props) in &next.buckets {
                if current.buckets.get(bucket) != Some(props) {
                    let on = stored.buckets.get(bucket).cloned();
                    learned.insert(
                        bucket.clone(),
                        Learned {
                            on,
                            props: props.clone(),
                        },
                    );
                }
            }
        }
        Ok(self.publish(stored))
    }

    /// [`Self::learn`] on tokio's blocking pool.
    pub async fn learn_async(
        self: &Arc<Self>,
        f: impl FnMut(&mut RegistryState) -> Result<(), RegistryError> + Send + 'static,
    ) -> Result<Arc<RegistryState>, RegistryError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.learn(f))
            .await
            .map_err(|e| RegistryError::Io(std::io::Error::other(e.to_string())))?
    }

    /// Forgets what this replica learned about `bucket` (its registration is removed); whether
    /// there was anything.
    pub fn forget_learned(&self, bucket: &str) -> bool {
        let _writer = self.lock_writer();
        let had = lock(&self.learned).remove(bucket).is_some();
        if had {
            self.publish(self.stored.load_full());
        }
        had
    }

    /// Makes `stored` (read from the store by a poll) the state in force if it is newer than
    /// what this process has; requests in flight keep the snapshot they started with. Returns
    /// whether it did.
    pub fn adopt(&self, stored: RegistryState) -> bool {
        let _writer = self.lock_writer();
        // Versions only grow; an older state is a read that raced with this process's write.
        if stored.version <= self.stored.load().version {
            return false;
        }
        self.publish(Arc::new(stored));
        true
    }

    /// Re-reads the store and makes what it holds the current snapshot (an empty store gives an
    /// empty registry at version 0). On error the current snapshot stays.
    pub fn reload(&self) -> Result<Arc<RegistryState>, RegistryError> {
        let _writer = self.lock_writer();
        let next = Arc::new(self.store.load()?.unwrap_or_default());
        Ok(self.publish(next))
    }

    /// Whether the stored registry can be read (readiness checks): its version, or why not.
    /// A shared store answers from what it last knew, without a request (see [`Store::check`]).
    pub fn check_stored(&self) -> Result<u64, RegistryError> {
        self.store.check()
    }

    /// Whether the shared store answers (`None` with a store of its own): readiness details.
    pub fn store_health(&self) -> Option<Result<(), String>> {
        self.store.health()
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, ()> {
        // The mutex guards no data, so a writer that panicked leaves nothing half-done.
        lock(&self.writer)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A store in memory that counts its writes; `interfere` makes another writer store a
    /// newer version before each of this registry's next writes.
    #[derive(Default)]
    struct Counting {
        state: Mutex<Option<RegistryState>>,
        writes: AtomicU64,
        interfere: AtomicU64,
        /// Whether it says it is shared by several replicas ([`Store::shared`]).
        shared: bool,
    }

    impl Store for Arc<Counting> {
        fn load(&self) -> Result<Option<RegistryState>, RegistryError> {
            Ok(self.state.lock().unwrap().clone())
        }
        fn compare_and_swap(
            &self,
            expected: u64,
            next: &RegistryState,
        ) -> Result<(), RegistryError> {
            let mut state = self.state.lock().unwrap();
            if self.interfere.load(Ordering::SeqCst) > 0 {
                self.interfere.fetch_sub(1, Ordering::SeqCst);
                let mut other = state.clone().unwrap_or_default();
                other.version += 1;
                other
                    .buckets
                    .insert(format!("other{}", other.version), BucketProps::default());
                *state = Some(other);
            }
            let found = state.as_ref().map_or(0, |s| s.version);
            if found != expected {
                return Err(RegistryError::Conflict { expected, found });
            }
            self.writes.fetch_add(1, Ordering::SeqCst);
            *state = Some(next.clone());
            Ok(())
        }
        fn shared(&self) -> bool {
            self.shared
        }
    }

    fn region(r: &str) -> impl FnMut(&mut RegistryState) -> Result<(), RegistryError> + '_ {
        move |s| {
            s.buckets.entry("b".into()).or_default().cloud_region = Some(r.parse().unwrap());
            Ok(())
        }
    }

    #[test]
    fn an_update_that_changes_nothing_stores_nothing() {
        let store = Arc::new(Counting::default());
        let reg = Registry::open_with_store(Box::new(store.clone())).unwrap();
        let (_, first) = reg.update(region("eu-west-1")).unwrap();
        assert_eq!((first.version, store.writes.load(Ordering::SeqCst)), (1, 1));
        let (_, same) = reg.update(region("eu-west-1")).unwrap();
        assert!(Arc::ptr_eq(&first, &same), "a new snapshot for no change");
        assert_eq!((same.version, store.writes.load(Ordering::SeqCst)), (1, 1));
        let (_, moved) = reg.update(region("us-east-2")).unwrap();
        assert_eq!((moved.version, store.writes.load(Ordering::SeqCst)), (2, 2));
    }

    #[test]
    fn a_conflict_reloads_and_applies_the_change_to_the_other_writers_state() {
        let store = Arc::new(Counting::default());
        let reg = Registry::open_with_store(Box::new(store.clone())).unwrap();
        store.interfere.store(2, Ordering::SeqCst);
        let (_, next) = reg.update(region("eu-west-1")).unwrap();
        assert_eq!(next.version, 3);
        assert!(next.buckets.contains_key("other1") && next.buckets.contains_key("other2"));
        assert_eq!(next.buckets["b"].cloud_region.as_deref(), Some("eu-west-1"));
        assert_eq!(store.load().unwrap().as_ref(), Some(&*next));
        assert_eq!(reg.snapshot(), next);

        // A writer that never lets go: the conflict is reported, nothing of this one stored.
        store.interfere.store(u64::MAX, Ordering::SeqCst);
        let err = reg.update(region("us-east-2")).unwrap_err();
        assert!(matches!(err, RegistryError::Conflict { .. }), "{err}");
        assert_ne!(
            store.load().unwrap().unwrap().buckets["b"]
                .cloud_region
                .as_deref(),
            Some("us-east-2")
        );
    }

    #[test]
    fn with_a_shared_store_a_learned_region_stays_local_until_its_registration_changes() {
        let store = Arc::new(Counting {
            shared: true,
            ..Counting::default()
        });
        let reg = Registry::open_with_store(Box::new(store.clone())).unwrap();
        reg.update(|s| {
            s.buckets.entry("b".into()).or_default();
            Ok(())
        })
        .unwrap();
        let learned = reg.learn(region("eu-west-1")).unwrap();
        assert_eq!(
            learned.buckets["b"].cloud_region.as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            store.writes.load(Ordering::SeqCst),
            1,
            "a learned region was stored"
        );
        assert_eq!(
            store.load().unwrap().unwrap().buckets["b"].cloud_region,
            None
        );

        // An operator's change stores the shared state, never what this replica learned.
        reg.update(|s| {
            s.buckets.insert("c".into(), BucketProps::default());
            Ok(())
        })
        .unwrap();
        let stored = store.load().unwrap().unwrap();
        assert_eq!(
            (stored.version, stored.buckets["b"].cloud_region.as_ref()),
            (2, None)
        );
        assert_eq!(
            reg.snapshot().buckets["b"].cloud_region.as_deref(),
            Some("eu-west-1")
        );

        // Another replica's change of another bucket keeps it; an older state is not adopted.
        let mut other = stored.clone();
        other.version = 3;
        other.buckets.insert("d".into(), BucketProps::default());
        assert!(reg.adopt(other.clone()));
        assert!(!reg.adopt(stored));
        assert_eq!(reg.snapshot().version, 3);
        assert_eq!(
            reg.snapshot().buckets["b"].cloud_region.as_deref(),
            Some("eu-west-1")
        );

        // A change of its registration drops it.
        other.version = 4;
        other.buckets.get_mut("b").unwrap().backend_bck = Some("real".parse().unwrap());
        assert!(reg.adopt(other));
        assert_eq!(reg.snapshot().buckets["b"].cloud_region, None);
        assert_eq!(store.writes.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn with_a_store_of_its_own_a_learned_region_is_stored() {
        let store = Arc::new(Counting::default());
        let reg = Registry::open_with_store(Box::new(store.clone())).unwrap();
        reg.learn(region("eu-west-1")).unwrap();
        let stored = store.load().unwrap().unwrap();
        assert_eq!(
            stored.buckets["b"].cloud_region.as_deref(),
            Some("eu-west-1")
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn update_async_runs_off_the_async_worker() {
        let store = Arc::new(Counting::default());
        let reg = Arc::new(Registry::open_with_store(Box::new(store.clone())).unwrap());
        let worker = std::thread::current().id();
        let (ran_on, next) = reg
            .update_async(|s| {
                s.buckets.entry("b".into()).or_default();
                Ok(std::thread::current().id())
            })
            .await
            .unwrap();
        assert_ne!(ran_on, worker);
        assert_eq!(next.version, 1);
    }
}
