//! Tests of the bucket registry's public interface: property validation and normalization,
//! persistence across reopen, versioning, failed updates, crash safety (torn writes, `kill -9`
//! of a writer process), concurrent writers and snapshot isolation.

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

// ---------------------------------------------------------------------------------------------
// Properties

#[test]
fn prop_names_are_the_operator_interface() {
    assert_eq!(
        PropKey::ALL.map(PropKey::as_str),
        [
            "backend_bck",
            "extra.aws.addressing_style",
            "extra.aws.cloud_region",
            "extra.aws.endpoint",
            "extra.aws.profile",
        ]
    );
}

#[test]
fn backend_bck_accepts_plain_and_s3_uri() {
    assert_eq!(stored(BACKEND, "abc"), "abc");
    assert_eq!(stored(BACKEND, "s3://abc"), "abc");
    assert_eq!(stored(BACKEND, "s3://abc/"), "abc");
    assert_eq!(stored(BACKEND, "S3://my.bucket-01"), "my.bucket-01");
    assert_eq!(stored(BACKEND, &"a".repeat(63)), "a".repeat(63));
    assert_eq!(stored(BACKEND, "1.2.3"), "1.2.3");
}

#[test]
fn backend_bck_refuses_invalid_bucket_names() {
    assert_eq!(
        refused(BACKEND, "Abc"),
        "invalid backend_bck \"Abc\": invalid character 'A' in bucket name (expecting lowercase letters, digits, dots and hyphens)"
    );
    assert_eq!(
        refused(BACKEND, "ab"),
        "invalid backend_bck \"ab\": bucket name must be 3 to 63 characters long (got 2)"
    );
    assert!(refused(BACKEND, &"a".repeat(64)).contains("3 to 63 characters long (got 64)"));
    for bad in ["-abc", "abc-", ".abc", "abc."] {
        assert!(
            refused(BACKEND, bad).ends_with("must start and end with a letter or digit"),
            "{bad}"
        );
    }
    assert!(refused(BACKEND, "a_b").contains("invalid character '_'"));
    assert!(refused(BACKEND, "a..b").contains("two adjacent dots"));
    assert!(refused(BACKEND, "192.168.5.4").contains("formatted as an IP address"));
    assert!(refused(BACKEND, "s3://10.0.0.1").contains("formatted as an IP address"));
    assert!(refused(BACKEND, "s3://").contains("empty bucket name"));
    assert!(refused(BACKEND, "s3://abc/obj").contains("not an object path"));
    assert_eq!(
        refused(BACKEND, "gs://abc"),
        "invalid backend_bck \"gs://abc\": unsupported provider \"gs\" (expecting s3:// or a plain bucket name)"
    );
}

#[test]
fn normalize_bucket_arg_strips_s3_scheme_and_validates() {
    assert_eq!(normalize_bucket_arg("abc").unwrap(), "abc");
    assert_eq!(normalize_bucket_arg("s3://abc").unwrap(), "abc");
    assert_eq!(normalize_bucket_arg("s3://abc/").unwrap(), "abc");
    let e = normalize_bucket_arg("s3://AB").unwrap_err();
    assert!(matches!(e, RegistryError::Invalid(_)));
    assert_eq!(
        e.to_string(),
        "invalid bucket \"s3://AB\": bucket name must be 3 to 63 characters long (got 2)"
    );
    assert!(normalize_bucket_arg("ais://abc").is_err());
    assert!(normalize_bucket_arg("").is_err());
    assert!(normalize_bucket_arg("127.0.0.1").is_err());
}

#[test]
fn profile_accepts_identifiers_only() {
    for good in ["default", "prod", "team-a/prod@acct:1+x%y.z_w", "A9"] {
        assert_eq!(stored(PROFILE, good), good);
    }
    assert_eq!(
        refused(PROFILE, "a b"),
        "invalid extra.aws.profile \"a b\": invalid character ' ' (expecting letters, digits and _-/.%@:+)"
    );
    assert!(refused(PROFILE, "a\"b").contains("invalid character '\"'"));
    assert!(refused(PROFILE, "prod]").contains("invalid character ']'"));
    assert!(refused(PROFILE, "pröd").contains("invalid character 'ö'"));
    assert!(refused(PROFILE, &"p".repeat(129)).contains("too long (129 > 128)"));
    assert_eq!(stored(PROFILE, &"p".repeat(128)).len(), 128);
}

#[test]
fn endpoint_scheme_error_is_aistores() {
    assert_eq!(
        refused(ENDPOINT, "foo"),
        "invalid extra.aws.endpoint \"foo\": unsupported scheme \"\" (expecting http or https)"
    );
    assert_eq!(
        refused(ENDPOINT, "ftp://x"),
        "invalid extra.aws.endpoint \"ftp://x\": unsupported scheme \"ftp\" (expecting http or https)"
    );
    // Like Go's url.Parse: "host:port" without a scheme reads as scheme "localhost".
    assert_eq!(
        refused(ENDPOINT, "localhost:9000"),
        "invalid extra.aws.endpoint \"localhost:9000\": unsupported scheme \"localhost\" (expecting http or https)"
    );
    assert_eq!(
        refused(ENDPOINT, "//x"),
        "invalid extra.aws.endpoint \"//x\": unsupported scheme \"\" (expecting http or https)"
    );
}

#[test]
fn endpoint_other_defects() {
    assert_eq!(
        refused(ENDPOINT, "http://"),
        "invalid extra.aws.endpoint \"http://\": missing host"
    );
    assert_eq!(
        refused(ENDPOINT, "https://:443"),
        "invalid extra.aws.endpoint \"https://:443\": missing host"
    );
    assert_eq!(
        refused(ENDPOINT, "http://x/bucket"),
        "invalid extra.aws.endpoint \"http://x/bucket\": unexpected path \"/bucket\" (expecting none)"
    );
    assert_eq!(
        refused(ENDPOINT, "http://x?a=1"),
        "invalid extra.aws.endpoint \"http://x?a=1\": unexpected query"
    );
    assert_eq!(
        refused(ENDPOINT, "http://key:secret@x"),
        "invalid extra.aws.endpoint \"http://key:secret@x\": user info is not allowed"
    );
    assert_eq!(
        refused(ENDPOINT, "http://x:99999"),
        "invalid extra.aws.endpoint \"http://x:99999\": invalid port \"99999\""
    );
    assert_eq!(
        refused(ENDPOINT, "http://x "),
        "invalid extra.aws.endpoint \"http://x \": leading/trailing whitespace"
    );
    assert!(refused(ENDPOINT, "http://x#frag").ends_with("unexpected fragment"));
    assert!(refused(ENDPOINT, "http://a b").ends_with("invalid character ' '"));
    assert!(refused(ENDPOINT, "http://bad_host!").ends_with("invalid host \"bad_host!\""));
}

#[test]
fn endpoint_is_stored_normalized() {
    assert_eq!(stored(ENDPOINT, "http://minio:9000/"), "http://minio:9000");
    assert_eq!(stored(ENDPOINT, "http://minio:9000"), "http://minio:9000");
    assert_eq!(
        stored(ENDPOINT, "HTTPS://S3.Eu-West-1.AmazonAWS.com/"),
        "https://s3.eu-west-1.amazonaws.com"
    );
    assert_eq!(stored(ENDPOINT, "http://10.1.2.3:80"), "http://10.1.2.3:80");
    assert_eq!(stored(ENDPOINT, "http://[::1]:9000/"), "http://[::1]:9000");
}

#[test]
fn endpoint_allowlist() {
    let policy = allow(&["s3.example.com", "minio:9000", "[::1]:9000"]);
    let ok = |v: &str| {
        let mut p = BucketProps::default();
        p.set(ENDPOINT, v, &policy)
            .unwrap_or_else(|e| panic!("{v}: {e}"));
    };
    ok("https://s3.example.com");
    ok("https://S3.EXAMPLE.COM:8443/"); // a host-only entry allows any port
    ok("http://minio:9000");
    ok("http://[::1]:9000");
    assert_eq!(
        refused_by(ENDPOINT, "http://x:9000", &policy),
        "extra.aws.endpoint \"http://x:9000\" is not allowed: host \"x\" is not in the endpoint allowlist"
    );
    // host:port entries allow that port only.
    assert_eq!(
        refused_by(ENDPOINT, "http://minio:9001", &policy),
        "extra.aws.endpoint \"http://minio:9001\" is not allowed: host \"minio\" is not in the endpoint allowlist"
    );
    assert!(refused_by(ENDPOINT, "http://minio", &policy).contains("is not allowed"));
    // An endpoint without a port has the scheme's default port.
    let default_port = allow(&["minio:443"]);
    let mut p = BucketProps::default();
    p.set(ENDPOINT, "https://minio", &default_port).unwrap();
    assert!(refused_by(ENDPOINT, "http://minio", &default_port).contains("is not allowed"));
    // An empty allowlist allows nothing; the syntax check comes first.
    assert!(refused_by(ENDPOINT, "http://minio:9000", &allow(&[])).contains("is not allowed"));
    assert!(refused_by(ENDPOINT, "foo", &allow(&[])).contains("unsupported scheme"));
    // Clearing is always allowed.
    let mut p = BucketProps {
        endpoint: Some("http://old:1".parse().unwrap()),
        ..Default::default()
    };
    assert_eq!(
        p.set(ENDPOINT, "", &allow(&[])).unwrap().as_deref(),
        Some("http://old:1")
    );
    assert_eq!(p.endpoint, None);
}

#[test]
fn cloud_region_and_addressing_style() {
    for good in ["us-east-1", "eu-central-2", "us-gov-west-1", "auto", "x1"] {
        assert_eq!(stored(REGION, good), good);
    }
    assert_eq!(
        refused(REGION, "US-EAST-1"),
        "invalid extra.aws.cloud_region \"US-EAST-1\": expecting lowercase letters, digits and dashes (e.g. us-east-1)"
    );
    for bad in ["us_east_1", "-us", "us-", "us east", "us.east"] {
        assert!(
            refused(REGION, bad).contains("expecting lowercase"),
            "{bad}"
        );
    }
    assert!(refused(REGION, &"a".repeat(65)).contains("too long (65 > 64)"));

    for good in ["auto", "path", "virtual"] {
        assert_eq!(stored(STYLE, good), good);
    }
    assert_eq!(
        refused(STYLE, "Path"),
        "invalid extra.aws.addressing_style \"Path\": expecting one of auto, path, virtual"
    );
    assert!(refused(STYLE, "vhost").contains("expecting one of"));
}

#[test]
fn empty_value_clears_and_set_returns_the_old_value() {
    let mut p = BucketProps::default();
    for (name, value) in [
        (BACKEND, "abc"),
        (PROFILE, "prod"),
        (ENDPOINT, "http://minio:9000"),
        (REGION, "us-east-1"),
        (STYLE, "path"),
    ] {
        assert_eq!(p.set(name, value, &any_host()).unwrap(), None);
        assert_eq!(p.get(name), Some(value));
        assert_eq!(
            p.set(name, value, &any_host()).unwrap().as_deref(),
            Some(value)
        );
    }
    assert_eq!(
        p.set(BACKEND, "s3://xyz", &any_host()).unwrap().as_deref(),
        Some("abc")
    );
    for name in PropKey::ALL {
        let old = p.set(name, "", &any_host()).unwrap();
        assert!(old.is_some(), "{name}");
        assert_eq!(p.get(name), None);
        assert_eq!(p.set(name, "", &any_host()).unwrap(), None, "{name}");
    }
    assert_eq!(p, BucketProps::default());
}

#[test]
fn a_refused_value_keeps_the_old_one() {
    let mut p = BucketProps::default();
    p.set(ENDPOINT, "http://good:1", &any_host()).unwrap();
    assert!(p.set(ENDPOINT, "bad", &any_host()).is_err());
    assert_eq!(p.endpoint.as_deref(), Some("http://good:1"));
}

#[test]
fn unknown_property_names_are_refused_listing_the_known_ones() {
    let want = "unknown property \"extra.aws.region\" (known: backend_bck, extra.aws.addressing_style, extra.aws.cloud_region, extra.aws.endpoint, extra.aws.profile)";
    assert_eq!(
        "extra.aws.region"
            .parse::<PropKey>()
            .unwrap_err()
            .to_string(),
        want
    );
    assert!(
        "profile".parse::<PropKey>().is_err(),
        "field names are not property names"
    );
    assert!("EXTRA.AWS.PROFILE".parse::<PropKey>().is_err());
}

#[test]
fn pairs_lists_every_property_sorted() {
    let mut p = BucketProps::default();
    p.set(PROFILE, "prod", &any_host()).unwrap();
    p.set(BACKEND, "s3://upstream", &any_host()).unwrap();
    assert_eq!(
        p.pairs(),
        vec![
            ("backend_bck", "upstream".to_string()),
            ("extra.aws.addressing_style", String::new()),
            ("extra.aws.cloud_region", String::new()),
            ("extra.aws.endpoint", String::new()),
            ("extra.aws.profile", "prod".to_string()),
        ]
    );
}

#[test]
fn routing_changed_ignores_only_the_region() {
    let base = BucketProps {
        backend_bck: Some("abc".parse().unwrap()),
        profile: Some("p".parse().unwrap()),
        endpoint: Some("http://e:1".parse().unwrap()),
        cloud_region: Some("us-east-1".parse().unwrap()),
        addressing_style: Some("path".parse().unwrap()),
    };
    assert!(!base.routing_changed(&base.clone()));
    let mut region = base.clone();
    region.cloud_region = Some("eu-west-1".parse().unwrap());
    assert!(!base.routing_changed(&region));
    region.cloud_region = None;
    assert!(!base.routing_changed(&region));
    for name in [BACKEND, PROFILE, ENDPOINT, STYLE] {
        let mut other = base.clone();
        other.set(name, "", &any_host()).unwrap();
        assert!(base.routing_changed(&other), "{name} cleared");
        assert!(other.routing_changed(&base), "{name} set");
    }
}

// ---------------------------------------------------------------------------------------------
// Registry and persistence

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

#[test]
fn open_creates_the_dir_and_starts_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b/data");
    let reg = Registry::open(&dir).unwrap();
    assert!(dir.is_dir());
    assert_eq!(*reg.snapshot(), RegistryState::default());
    assert!(
        !dir.join(REGISTRY_FILE).exists(),
        "opening alone writes nothing"
    );
}

#[test]
fn state_survives_reopen_as_pretty_json() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let reg = Registry::open(tmp.path()).unwrap();
        set_bucket(&reg, "b1", BACKEND, "s3://up1");
        set_bucket(&reg, "b1", ENDPOINT, "http://minio:9000/");
        set_bucket(&reg, "b2", PROFILE, "prod");
    }
    let text = fs::read_to_string(tmp.path().join(REGISTRY_FILE)).unwrap();
    assert_eq!(
        text,
        r#"{
  "version": 3,
  "buckets": {
    "b1": {
      "backend_bck": "up1",
      "endpoint": "http://minio:9000"
    },
    "b2": {
      "profile": "prod"
    }
  }
}
"#
    );
    let reg = Registry::open(tmp.path()).unwrap();
    let s = reg.snapshot();
    assert_eq!(s.version, 3);
    assert_eq!(s.buckets["b1"].get(BACKEND), Some("up1"));
    assert_eq!(
        s.buckets["b1"].endpoint.as_deref(),
        Some("http://minio:9000")
    );
    assert_eq!(s.buckets["b2"].profile.as_deref(), Some("prod"));
    // And it goes on from there.
    assert_eq!(set_bucket(&reg, "b2", PROFILE, "").version, 4);
    assert_eq!(
        Registry::open(tmp.path()).unwrap().snapshot().buckets["b2"],
        BucketProps::default()
    );
}

#[test]
fn every_update_bumps_the_version_by_one() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::open(tmp.path()).unwrap();
    for want in 1..=5u64 {
        let (out, next) = reg
            .update(|s| {
                s.version = 1000; // ignored: the registry owns the version
                Ok(s.buckets.len())
            })
            .unwrap();
        assert_eq!(out, 0);
        assert_eq!(next.version, want);
        assert!(Arc::ptr_eq(&next, &reg.snapshot()));
    }
    assert_eq!(Registry::open(tmp.path()).unwrap().snapshot().version, 5);
}

#[test]
fn a_failed_update_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::open(tmp.path()).unwrap();
    set_bucket(&reg, "b", PROFILE, "prod");
    let before = reg.snapshot();
    let bytes = file_bytes(tmp.path());

    // f mutates, then fails.
    let err = reg
        .update(|s| {
            s.buckets.clear();
            s.buckets.insert("x".into(), BucketProps::default());
            Err::<(), _>(RegistryError::NoSuchBucket("zzz".into()))
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "bucket \"zzz\" is not registered");
    // f's own validation fails halfway through.
    let err = reg
        .update(|s| {
            let p = s.buckets.get_mut("b").unwrap();
            p.set(PROFILE, "other", &any_host())?;
            p.set(ENDPOINT, "foo", &any_host())
        })
        .unwrap_err();
    assert!(err.to_string().contains("unsupported scheme"));
    // f cannot bypass validation by writing a field directly: the field's type is validated.
    assert!("not a url".parse::<Endpoint>().is_err());

    assert!(Arc::ptr_eq(&before, &reg.snapshot()));
    assert_eq!(reg.snapshot().buckets["b"].profile.as_deref(), Some("prod"));
    assert_eq!(file_bytes(tmp.path()), bytes);
    assert_eq!(set_bucket(&reg, "b", REGION, "us-east-1").version, 2);
}

/// An in-memory store that can be told to fail.
#[derive(Default)]
struct MemStore {
    state: Mutex<Option<RegistryState>>,
    fail: AtomicBool,
}

struct Shared(Arc<MemStore>);

impl Store for Shared {
    fn load(&self) -> Result<Option<RegistryState>, RegistryError> {
        Ok(self.0.state.lock().unwrap().clone())
    }
    fn compare_and_swap(&self, expected: u64, next: &RegistryState) -> Result<(), RegistryError> {
        if self.0.fail.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("disk full").into());
        }
        let mut state = self.0.state.lock().unwrap();
        let found = state.as_ref().map_or(0, |s| s.version);
        if found != expected {
            return Err(RegistryError::Conflict { expected, found });
        }
        *state = Some(next.clone());
        Ok(())
    }
}

#[test]
fn a_failed_persist_changes_nothing_in_memory() {
    let mem = Arc::new(MemStore::default());
    let reg = Registry::open_with_store(Box::new(Shared(mem.clone()))).unwrap();
    set_bucket(&reg, "b", PROFILE, "prod");
    let before = reg.snapshot();
    mem.fail.store(true, Ordering::SeqCst);
    let err = reg
        .update(|s| {
            s.buckets
                .get_mut("b")
                .unwrap()
                .set(PROFILE, "other", &any_host())
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "cannot persist the registry: disk full");
    assert!(Arc::ptr_eq(&before, &reg.snapshot()));
    assert_eq!(mem.state.lock().unwrap().as_ref(), Some(&*before));
    mem.fail.store(false, Ordering::SeqCst);
    assert_eq!(set_bucket(&reg, "b", PROFILE, "other").version, 2);
}

#[test]
fn readers_keep_their_snapshot_across_updates() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::open(tmp.path()).unwrap();
    set_bucket(&reg, "b", ENDPOINT, "http://one:1");
    let old = reg.snapshot();
    set_bucket(&reg, "b", ENDPOINT, "http://two:2");
    reg.update(|s| {
        s.buckets.clear();
        Ok(())
    })
    .unwrap();
    assert_eq!(old.version, 1);
    assert_eq!(old.buckets["b"].endpoint.as_deref(), Some("http://one:1"));
    let new = reg.snapshot();
    assert_eq!(new.version, 3);
    assert!(new.buckets.is_empty());
}

#[test]
fn a_corrupt_file_is_an_error_naming_it_and_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(REGISTRY_FILE);
    for (content, reason) in [
        (&b"{\"version\": 3, \"buck"[..], "EOF while parsing"),
        (b"", "EOF while parsing"),
        (
            b"{\"version\": 1, \"buckets\": {\"b\": {\"endpiont\": \"http://x\"}}}",
            "unknown field `endpiont`",
        ),
        (
            b"{\"version\": 1, \"buckets\": {\"b\": {\"endpoint\": \"ftp://x\"}}}",
            "bucket \"b\": invalid extra.aws.endpoint \"ftp://x\": unsupported scheme",
        ),
        (
            b"{\"version\": 1, \"buckets\": {\"b\": {\"backend_bck\": \"s3://xyz\"}}}",
            "not in normalized form",
        ),
    ] {
        fs::write(&path, content).unwrap();
        let err = Registry::open(tmp.path()).unwrap_err();
        assert!(matches!(err, RegistryError::Corrupt { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("registry file {} is corrupt: ", path.display())),
            "{msg}"
        );
        assert!(msg.contains(reason), "{msg}");
        assert_eq!(
            fs::read(&path).unwrap(),
            content,
            "the corrupt file was changed"
        );
    }
}

#[test]
fn a_writer_refuses_to_overwrite_a_file_that_became_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::open(tmp.path()).unwrap();
    set_bucket(&reg, "b", PROFILE, "prod");
    fs::write(tmp.path().join(REGISTRY_FILE), b"garbage").unwrap();
    let err = reg.update(|_| Ok(())).unwrap_err();
    assert!(matches!(err, RegistryError::Corrupt { .. }), "{err:?}");
    assert_eq!(file_bytes(tmp.path()), b"garbage");
    assert_eq!(reg.snapshot().version, 1);
}

#[test]
fn leftover_temp_files_are_ignored_and_removed() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let reg = Registry::open(tmp.path()).unwrap();
        set_bucket(&reg, "b", PROFILE, "prod");
    }
    // A crash mid-write leaves a truncated temp file behind.
    let torn = tmp.path().join(".registry.json.tmp-4242-0");
    fs::write(
        &torn,
        b"{\n  \"version\": 2,\n  \"buckets\": {\n    \"b\": {\n      \"prof",
    )
    .unwrap();
    let reg = Registry::open(tmp.path()).unwrap();
    assert_eq!(reg.snapshot().version, 1);
    assert_eq!(reg.snapshot().buckets["b"].profile.as_deref(), Some("prod"));
    assert!(!torn.exists());
    assert_eq!(temp_files(tmp.path()), Vec::<String>::new());
    assert_eq!(set_bucket(&reg, "b", PROFILE, "dev").version, 2);
}

#[test]
fn a_stale_writer_gets_a_conflict_until_it_reloads() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Registry::open(tmp.path()).unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    assert_eq!(store.load().unwrap(), None);
    let b = Registry::open_with_store(Box::new(store)).unwrap();
    set_bucket(&a, "x", PROFILE, "from-a");
    let err = b
        .update(|s| {
            s.buckets
                .entry("y".into())
                .or_default()
                .set(PROFILE, "from-b", &any_host())
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Conflict {
                expected: 0,
                found: 1
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("changed by another writer"));
    assert_eq!(b.snapshot().version, 0);
    assert!(
        !String::from_utf8(file_bytes(tmp.path()))
            .unwrap()
            .contains("from-b")
    );

    let reloaded = b.reload().unwrap();
    assert_eq!(reloaded.version, 1);
    assert_eq!(reloaded.buckets["x"].profile.as_deref(), Some("from-a"));
    let after = set_bucket(&b, "y", PROFILE, "from-b");
    assert_eq!(after.version, 2);
    assert_eq!(after.buckets.len(), 2);
}

#[test]
fn reload_keeps_the_snapshot_when_the_store_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::open(tmp.path()).unwrap();
    set_bucket(&reg, "b", PROFILE, "prod");
    let before = reg.snapshot();
    fs::write(tmp.path().join(REGISTRY_FILE), b"{").unwrap();
    assert!(matches!(reg.reload(), Err(RegistryError::Corrupt { .. })));
    assert!(Arc::ptr_eq(&before, &reg.snapshot()));
}

/// Every thread bumps its own counter and a shared one; a lost update shows as a wrong count.
fn hammer(reg: &Registry, threads: usize, per_thread: usize) {
    fn count(s: &RegistryState, bucket: &str) -> usize {
        s.buckets
            .get(bucket)
            .and_then(|p| p.cloud_region.as_deref())
            .map_or(0, |r| r.trim_start_matches('n').parse().unwrap())
    }
    fn bump(s: &mut RegistryState, bucket: &str) -> Result<(), RegistryError> {
        let n = count(s, bucket) + 1;
        s.buckets
            .entry(bucket.to_string())
            .or_default()
            .set(REGION, &format!("n{n}"), &EndpointPolicy::default())
            .map(drop)
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // A reader checking that every snapshot is whole and versions never go back.
        let reader = scope.spawn(|| {
            let mut last = 0;
            let mut seen = 0u64;
            while !done.load(Ordering::SeqCst) {
                let s = reg.snapshot();
                assert!(s.version >= last);
                assert_eq!(count(&s, "shared") as u64, s.version);
                last = s.version;
                seen += 1;
            }
            seen
        });
        let writers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    for _ in 0..per_thread {
                        reg.update(|s| {
                            bump(s, &format!("t{t}"))?;
                            bump(s, "shared")
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        writers.into_iter().for_each(|w| w.join().unwrap());
        done.store(true, Ordering::SeqCst);
        assert!(reader.join().unwrap() > 0);
    });
    let s = reg.snapshot();
    assert_eq!(s.version, (threads * per_thread) as u64);
    assert_eq!(count(&s, "shared"), threads * per_thread);
    for t in 0..threads {
        assert_eq!(count(&s, &format!("t{t}")), per_thread);
    }
    assert_eq!(s.buckets.len(), threads + 1);
}

#[test]
fn concurrent_updates_lose_nothing_in_memory() {
    let reg = Registry::open_with_store(Box::new(Shared(Arc::default()))).unwrap();
    hammer(&reg, 16, 200);
}

#[test]
fn concurrent_updates_lose_nothing_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::open(tmp.path()).unwrap();
    hammer(&reg, 4, 25);
    let reopened = Registry::open(tmp.path()).unwrap();
    assert_eq!(*reopened.snapshot(), *reg.snapshot());
    assert_eq!(temp_files(tmp.path()), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// kill -9 of a writer process

const CRASH_DIR_ENV: &str = "REBUCKET_TEST_CRASH_DIR";
const CRASH_BUCKETS: usize = 300;

/// The state written at `version`: a function of the version, so a reader can tell a whole file
/// from a mix of two.
fn crash_state(version: u64) -> BTreeMap<String, BucketProps> {
    (0..CRASH_BUCKETS)
        .map(|i| {
            let props = BucketProps {
                backend_bck: Some(format!("upstream-{i}").parse().unwrap()),
                endpoint: Some(
                    format!("http://host{i}.example:{}", 1 + version % 60000)
                        .parse()
                        .unwrap(),
                ),
                cloud_region: Some(format!("r{version}").parse().unwrap()),
                ..Default::default()
            };
            (format!("bucket-{i:03}"), props)
        })
        .collect()
}

/// Run by `kill_9_mid_write_leaves_old_or_new_file` as a child process: writes forever.
#[test]
#[ignore = "child process of kill_9_mid_write_leaves_old_or_new_file"]
fn crash_child_writer() {
    let dir = std::env::var(CRASH_DIR_ENV).expect("run by kill_9_mid_write_leaves_old_or_new_file");
    let reg = Registry::open(Path::new(&dir)).unwrap();
    println!("ready");
    // Bounded, in case the parent dies without killing us.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        reg.update(|s| {
            s.buckets = crash_state(s.version + 1);
            Ok(())
        })
        .unwrap();
    }
}

/// Kills the child if the test fails before it does.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn kill_9_mid_write_leaves_old_or_new_file() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut last = 0;
    let mut leftovers = 0;
    for _ in 0..40 {
        let mut child = KillOnDrop(
            Command::new(&exe)
                .args([
                    "--exact",
                    "crash_child_writer",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CRASH_DIR_ENV, tmp.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let mut out = BufReader::new(child.0.stdout.take().unwrap());
        let mut line = String::new();
        while !line.trim_end().ends_with("ready") {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "the child exited early"
            );
        }
        std::thread::sleep(Duration::from_micros(rand::random_range(0..60_000)));
        child.0.kill().unwrap(); // SIGKILL
        child.0.wait().unwrap();
        leftovers += temp_files(tmp.path()).len();

        let reg = Registry::open(tmp.path()).unwrap();
        let s = reg.snapshot();
        assert!(
            s.version >= last,
            "version went back from {last} to {}",
            s.version
        );
        if s.version > 0 {
            assert_eq!(
                s.buckets,
                crash_state(s.version),
                "a mixed file at version {}",
                s.version
            );
        }
        assert_eq!(temp_files(tmp.path()), Vec::<String>::new());
        last = s.version;
    }
    assert!(last > 0, "the child never wrote");
    eprintln!("kill -9 test: final version {last}, {leftovers} torn temp files cleaned up");
}
