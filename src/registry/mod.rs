//! The bucket registry: bucket name -> properties (`backend_bck`, `extra.aws.*`), validated once
//! on the way in, kept as an immutable snapshot behind an atomic pointer for the hot path, and
//! persisted crash-safely in the data dir.
//!
//! INTERFACE CONTRACT (bodies are being written; signatures are fixed, callers rely on them).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

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

/// The properties of one bucket. Empty means "not set" (falls back to the start-up defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketProps {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_bck: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_region: Option<String>,
    /// `auto`, `path` or `virtual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addressing_style: Option<String>,
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

/// Which hosts buckets may point at (PLACEHOLDER until the registry branch lands).
#[derive(Debug, Clone, Default)]
pub struct EndpointPolicy {
    pub allowlist: Option<Vec<String>>,
}

/// Validates an `http(s)://host[:port]` endpoint (PLACEHOLDER until the registry branch lands).
pub fn validate_endpoint(s: &str, _policy: &EndpointPolicy) -> Result<String, RegistryError> {
    if s.starts_with("http://") || s.starts_with("https://") {
        Ok(s.trim_end_matches('/').to_owned())
    } else {
        Err(RegistryError::Invalid(format!(
            "invalid extra.aws.endpoint {s:?}"
        )))
    }
}

/// PLACEHOLDER until the registry branch lands.
pub const PROP_NAMES: [&str; 5] = [
    "backend_bck",
    "extra.aws.addressing_style",
    "extra.aws.cloud_region",
    "extra.aws.endpoint",
    "extra.aws.profile",
];

/// PLACEHOLDER until the registry branch lands.
pub fn normalize_bucket_arg(s: &str) -> Result<String, RegistryError> {
    Ok(s.trim_start_matches("s3://")
        .trim_end_matches('/')
        .to_owned())
}

impl BucketProps {
    /// PLACEHOLDER until the registry branch lands.
    pub fn get(&self, name: &str) -> Result<Option<&str>, RegistryError> {
        Ok(match name {
            "backend_bck" => self.backend_bck.as_deref(),
            "extra.aws.profile" => self.profile.as_deref(),
            "extra.aws.endpoint" => self.endpoint.as_deref(),
            "extra.aws.cloud_region" => self.cloud_region.as_deref(),
            "extra.aws.addressing_style" => self.addressing_style.as_deref(),
            _ => return Err(RegistryError::Invalid(format!("unknown property {name:?}"))),
        })
    }
    /// PLACEHOLDER until the registry branch lands.
    pub fn set(
        &mut self,
        name: &str,
        value: &str,
        policy: &EndpointPolicy,
    ) -> Result<Option<String>, RegistryError> {
        let v = (!value.is_empty()).then(|| value.to_owned());
        let slot = match name {
            "backend_bck" => &mut self.backend_bck,
            "extra.aws.profile" => &mut self.profile,
            "extra.aws.endpoint" => {
                let v = v.map(|e| validate_endpoint(&e, policy)).transpose()?;
                return Ok(std::mem::replace(&mut self.endpoint, v));
            }
            "extra.aws.cloud_region" => &mut self.cloud_region,
            "extra.aws.addressing_style" => &mut self.addressing_style,
            _ => return Err(RegistryError::Invalid(format!("unknown property {name:?}"))),
        };
        Ok(std::mem::replace(slot, v))
    }
    /// PLACEHOLDER until the registry branch lands.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        PROP_NAMES
            .iter()
            .map(|n| (*n, self.get(n).ok().flatten().unwrap_or("").to_owned()))
            .collect()
    }
    /// PLACEHOLDER until the registry branch lands.
    pub fn routing_changed(&self, other: &BucketProps) -> bool {
        self.profile != other.profile
            || self.endpoint != other.endpoint
            || self.backend_bck != other.backend_bck
            || self.addressing_style != other.addressing_style
    }
}
