//! The bucket registry: bucket name -> properties (`backend_bck`, `extra.aws.*`), validated once
//! on the way in, kept as an immutable snapshot behind an atomic pointer for the hot path, and
//! persisted crash-safely in the data dir.
//!
//! INTERFACE CONTRACT (bodies are being written; signatures are fixed, callers rely on them).

mod props;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use props::{
    ADDRESSING_STYLES, BucketProps, EndpointPolicy, PROP_ADDRESSING_STYLE, PROP_BACKEND_BCK,
    PROP_CLOUD_REGION, PROP_ENDPOINT, PROP_NAMES, PROP_PROFILE, normalize_bucket_arg,
};

/// A refused property change; the message is shown to the operator as is.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Unknown property name, bad value (e.g. `invalid extra.aws.endpoint "foo": unsupported scheme "" (expecting http or https)`).
    #[error("{0}")]
    Invalid(String),
    /// The bucket is not registered.
    #[error("bucket {0:?} is not registered")]
    NoSuchBucket(String),
    /// Persisting failed; nothing changed.
    #[error("cannot persist the registry: {0}")]
    Io(#[from] std::io::Error),
}

/// One immutable version of the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryState {
    pub version: u64,
    pub buckets: BTreeMap<String, BucketProps>,
}

/// The live registry.
pub struct Registry {
    current: arc_swap::ArcSwap<RegistryState>,
}

impl Registry {
    /// Opens (or creates) the registry in `data_dir`.
    pub fn open(data_dir: &std::path::Path) -> Result<Self, RegistryError> {
        let _ = data_dir;
        Ok(Self {
            current: arc_swap::ArcSwap::from_pointee(RegistryState::default()),
        })
    }

    /// The current snapshot; requests keep the one they started with.
    pub fn snapshot(&self) -> Arc<RegistryState> {
        self.current.load_full()
    }

    /// Applies `f` to a copy of the current state, bumps the version, persists, swaps.
    /// Writers are serialized; `f`'s error leaves everything unchanged.
    pub fn update<T>(
        &self,
        f: impl FnOnce(&mut RegistryState) -> Result<T, RegistryError>,
    ) -> Result<(T, Arc<RegistryState>), RegistryError> {
        let mut next = (*self.snapshot()).clone();
        let out = f(&mut next)?;
        next.version += 1;
        let next = Arc::new(next);
        self.current.store(next.clone());
        Ok((out, next))
    }
}
