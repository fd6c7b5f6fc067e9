//! Tests of the bucket registry's public interface: property validation and normalization,
//! persistence across reopen, versioning, failed updates, crash safety (torn writes, `kill -9`
//! of a writer process), concurrent writers and snapshot isolation.

mod crash;
mod persistence;
mod props;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rebucket::registry::{
    BucketProps, Endpoint, EndpointPolicy, FileStore, PropKey, REGISTRY_FILE, Registry,
    RegistryError, RegistryState, Store, normalize_bucket_arg,
};

use crate::common::*;

const BACKEND: PropKey = PropKey::BackendBck;
const PROFILE: PropKey = PropKey::Profile;
const ENDPOINT: PropKey = PropKey::Endpoint;
const REGION: PropKey = PropKey::CloudRegion;
const STYLE: PropKey = PropKey::AddressingStyle;

fn any_host() -> EndpointPolicy {
    EndpointPolicy::default()
}

fn allow(hosts: &[&str]) -> EndpointPolicy {
    EndpointPolicy {
        allowlist: Some(hosts.iter().map(|h| h.to_string()).collect()),
    }
}

/// Sets one property on empty props and returns the stored value.
fn stored(name: PropKey, value: &str) -> String {
    let mut p = BucketProps::default();
    p.set(name, value, &any_host())
        .unwrap_or_else(|e| panic!("{name}={value:?}: {e}"));
    p.get(name).unwrap().to_string()
}

/// Sets one property on empty props, expects a refusal and returns its message.
fn refused(name: PropKey, value: &str) -> String {
    refused_by(name, value, &any_host())
}

fn refused_by(name: PropKey, value: &str, policy: &EndpointPolicy) -> String {
    let mut p = BucketProps::default();
    match p.set(name, value, policy) {
        Ok(_) => panic!("{name}={value:?} was accepted as {:?}", p.get(name)),
        Err(e) => {
            assert!(matches!(e, RegistryError::Invalid(_)), "{e:?}");
            assert_eq!(p, BucketProps::default(), "a refused set changed the props");
            e.to_string()
        }
    }
}

fn set_bucket(reg: &Registry, bucket: &str, name: PropKey, value: &str) -> Arc<RegistryState> {
    reg.update(|s| {
        s.buckets
            .entry(bucket.to_string())
            .or_default()
            .set(name, value, &any_host())
    })
    .unwrap()
    .1
}

fn file_bytes(dir: &Path) -> Vec<u8> {
    fs::read(dir.join(REGISTRY_FILE)).unwrap()
}

fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect()
}
