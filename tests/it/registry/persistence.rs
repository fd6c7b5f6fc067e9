//! The registry's persistence and concurrency: reopen, versions, failed updates and persists,
//! corrupt files, stale writers, concurrent writers, snapshot isolation.

use super::*;

#[test]
fn open_creates_the_dir_and_starts_empty() {
    let _g = light_blocking();
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
    let _g = light_blocking();
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
    let _g = light_blocking();
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
    let _g = light_blocking();
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
    let _g = light_blocking();
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
    let _g = light_blocking();
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
    let _g = light_blocking();
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
    let _g = light_blocking();
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::open(tmp.path()).unwrap();
    set_bucket(&reg, "b", PROFILE, "prod");
    fs::write(tmp.path().join(REGISTRY_FILE), b"garbage").unwrap();
    let err = reg
        .update(|s| {
            s.buckets
                .get_mut("b")
                .unwrap()
                .set(PROFILE, "dev", &any_host())
        })
        .unwrap_err();
    assert!(matches!(err, RegistryError::Corrupt { .. }), "{err:?}");
    assert_eq!(file_bytes(tmp.path()), b"garbage");
    assert_eq!(reg.snapshot().version, 1);
}

#[test]
fn leftover_temp_files_are_ignored_and_removed() {
    let _g = light_blocking();
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
fn a_stale_writer_reloads_and_keeps_the_other_writers_change() {
    let _g = light_blocking();
    let tmp = tempfile::tempdir().unwrap();
    let a = Registry::open(tmp.path()).unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    assert_eq!(store.load().unwrap(), None);
    let b = Registry::open_with_store(Box::new(store)).unwrap();
    set_bucket(&a, "x", PROFILE, "from-a");
    // b read the store before a wrote: its write conflicts, so it reloads and applies its
    // change to what a stored, instead of failing until restart.
    let after = set_bucket(&b, "y", PROFILE, "from-b");
    assert_eq!(after.version, 2);
    assert_eq!(after.buckets["x"].profile.as_deref(), Some("from-a"));
    assert_eq!(after.buckets["y"].profile.as_deref(), Some("from-b"));
    let text = String::from_utf8(file_bytes(tmp.path())).unwrap();
    assert!(text.contains("from-a") && text.contains("from-b"), "{text}");
    assert_eq!(a.reload().unwrap(), after);
}

#[test]
fn reload_keeps_the_snapshot_when_the_store_is_corrupt() {
    let _g = light_blocking();
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
    let _g = light_blocking();
    let reg = Registry::open_with_store(Box::new(Shared(Arc::default()))).unwrap();
    hammer(&reg, 16, 200);
}

#[test]
fn concurrent_updates_lose_nothing_on_disk() {
    let _g = light_blocking();
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::open(tmp.path()).unwrap();
    hammer(&reg, 4, 25);
    let reopened = Registry::open(tmp.path()).unwrap();
    assert_eq!(*reopened.snapshot(), *reg.snapshot());
    assert_eq!(temp_files(tmp.path()), Vec::<String>::new());
}
