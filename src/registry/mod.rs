//! The bucket registry: bucket name -> properties (`backend_bck`, `extra.aws.*`), validated once
//! on the way in, kept as an immutable snapshot behind an atomic pointer for the hot path, and
//! persisted crash-safely in the data dir.
//!
//! - [`props`]: the property model: keys ([`PropKey`]), typed values per bucket
//!   ([`BucketProps`]), the endpoint allowlist ([`EndpointPolicy`]);
//! - [`values`]: the value types, each validated once when parsed ([`Endpoint`], ...);
//! - [`store`]: persistence ([`Store`], [`FileStore`]).
//! - this file: the live [`Registry`] (snapshots, serialized writers) and its errors.

mod props;
mod store;
mod values;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

pub use crate::profiles::AddressingStyle;
pub use props::{BucketProps, EndpointPolicy, PropKey, normalize_bucket_arg};
pub use store::{FileStore, LOCK_FILE, REGISTRY_FILE, Store};
pub use values::{BucketName, Endpoint, InvalidValue, ProfileName, Region};

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
    /// Another writer changed the stored registry since this process last read it; nothing was
    /// stored. [`Registry::reload`] and retry.
    #[error(
        "the registry was changed by another writer (expected stored version {expected}, found {found}); reload and retry"
    )]
    Conflict { expected: u64, found: u64 },
    /// A registration was asked to be created for a bucket that has one.
    #[error("bucket {0:?} is registered already (use `bucket props set` to change it)")]
    AlreadyRegistered(String),
}

/// One immutable version of the registry. Its values are typed, so any state is valid; reading
/// one refuses invalid values with an error naming the bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryState {
    pub version: u64,
    #[serde(deserialize_with = "buckets_naming_the_bucket")]
    pub buckets: BTreeMap<String, BucketProps>,
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
    current: arc_swap::ArcSwap<RegistryState>,
    store: Box<dyn Store>,
    /// Serializes writers (update, reload); readers never take it.
    writer: Mutex<()>,
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

    /// Opens the registry kept in `store`.
    pub fn open_with_store(store: Box<dyn Store>) -> Result<Self, RegistryError> {
        let state = store.load()?.unwrap_or_default();
        Ok(Self {
            current: arc_swap::ArcSwap::from_pointee(state),
            store,
            writer: Mutex::new(()),
        })
    }

    /// The current snapshot; requests keep the one they started with.
    pub fn snapshot(&self) -> Arc<RegistryState> {
        self.current.load_full()
    }

    /// Applies `f` to a copy of the current state, bumps the version, persists, swaps.
    /// Writers are serialized; if `f` fails or persisting fails, nothing changes (neither the
    /// snapshot nor the store).
    pub fn update<T>(
        &self,
        f: impl FnOnce(&mut RegistryState) -> Result<T, RegistryError>,
    ) -> Result<(T, Arc<RegistryState>), RegistryError> {
        let _writer = self.lock_writer();
        let current = self.current.load_full();
        let mut next = (*current).clone();
        let out = f(&mut next)?;
        next.version = current.version + 1;
        self.store.compare_and_swap(current.version, &next)?;
        let next = Arc::new(next);
        self.current.store(next.clone());
        Ok((out, next))
    }

    /// Re-reads the store and makes what it holds the current snapshot (an empty store gives an
    /// empty registry at version 0). On error the current snapshot stays.
    pub fn reload(&self) -> Result<Arc<RegistryState>, RegistryError> {
        let _writer = self.lock_writer();
        let next = Arc::new(self.store.load()?.unwrap_or_default());
        self.current.store(next.clone());
        Ok(next)
    }

    /// Reads the stored registry without making it current (readiness checks): its version,
    /// or why it cannot be loaded.
    pub fn check_stored(&self) -> Result<u64, RegistryError> {
        Ok(self.store.load()?.map_or(0, |s| s.version))
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, ()> {
        // The mutex guards no data, so a writer that panicked leaves nothing half-done.
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
