//! Consistency under churn: buckets created, used and deleted by many clients at once through
//! rebucket, over an upstream slowed by the fault proxy, while discovery (HeadBucket on first
//! use) runs in the background and writes the registry.
//!
//! What must hold: a bucket a client created is usable on its very next request; ListBuckets
//! through rebucket lists exactly the upstream's buckets (for every bucket no client created or
//! deleted while the two lists were taken); and once the clients stop, the registry names no
//! bucket the upstream does not have.
//!
//! The races behind it, one deterministic test each (the fault proxy holds the answer of a
//! look-up while a client changes the bucket): a look-up that found the bucket before a
//! DeleteBucket registered it again afterwards, for good; a look-up that found it missing
//! before a CreateBucket kept it from being looked up again for the negative cache's 30 s.
//!
//! `REBUCKET_CHURN_SECS` sets how long the churn runs over s3s-fs (default 15; CI runs 90);
//! over moto it runs a third of that. The churn tests run alone in the test process
//! (`common::heavy`): 16 busy clients would slow the timing-sensitive tests around them.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, Tag, Tagging};

use crate::common::*;
use crate::faults::{Fault, FaultProxy};

/// Parallel clients.
const CLIENTS: usize = 16;
/// Bucket names every client uses now and then, so that clients collide.
const SHARED: usize = 3;

/// The gateway's options in front of `endpoint`, signing with `keys`.
fn in_front_of(endpoint: &str, keys: (&str, &str)) -> GwOpts {
    GwOpts {
        s3_endpoint: Some(endpoint.to_owned()),
        aws_keys: Some((keys.0.to_owned(), keys.1.to_owned())),
        ..GwOpts::default()
    }
}

/// The names ListBuckets gives.
async fn bucket_names(c: &aws_sdk_s3::Client) -> Result<BTreeSet<String>, String> {
    let out = c
        .list_buckets()
        .send()
        .await
        .map_err(|e| format!("ListBuckets: {:?}", err_parts(&e)))?;
    Ok(out
        .buckets()
        .iter()
        .filter_map(|b| b.name.clone())
        .collect())
}

/// The registered buckets (admin `GET /v1/buckets`).
async fn registered(gw: &TestGateway) -> BTreeSet<String> {
    let ans = gw.admin("GET", "/v1/buckets", None).await;
    assert_eq!(ans.status, 200, "GET /v1/buckets: {}", ans.text);
    ans.json["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .filter_map(|b| b["name"].as_str().map(str::to_owned))
        .collect()
}

async fn is_registered(gw: &TestGateway, bucket: &str) -> bool {
    gw.admin("GET", &format!("/v1/buckets/{bucket}"), None)
        .await
        .json["registered"]
        == true
}

/// Waits until the proxy holds at least one answer, then a little more (the upstream has
/// answered what it holds).
async fn until_held(proxy: &FaultProxy) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.held() == 0 {
        assert!(
            Instant::now() < deadline,
            "no answer held within 10 s; requests: {:?}",
            proxy.requests()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
}

// ---------------------------------------------------------------------------------------------
// The races, one at a time.

/// A look-up that found the bucket before a client deleted it through rebucket ends after the
/// delete: it must not register the deleted bucket again (it would stay registered, with its
/// region, although the upstream no longer has it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_up_answered_before_delete_bucket_does_not_register_the_deleted_bucket() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket("gone").await;
    let proxy = FaultProxy::start(up.addr).await;
    let gw = TestGateway::start(in_front_of(&proxy.endpoint, KEYS_A)).await;
    let c = gw.client();

    // The first use starts the bucket's look-up; the upstream answers it (the bucket exists),
    // and the proxy holds that answer.
    proxy.hold("HEAD /gone");
    c.list_objects_v2()
        .bucket("gone")
        .send()
        .await
        .expect("ListObjectsV2");
    until_held(&proxy).await;
    c.delete_bucket()
        .bucket("gone")
        .send()
        .await
        .expect("DeleteBucket");
    assert!(
        !is_registered(&gw, "gone").await,
        "registered right after DeleteBucket"
    );

    proxy.release();
    let lookups_done = |m: &str| {
        m.lines()
            .filter(|l| l.starts_with("rebucket_discovery_lookups_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = gw.admin("GET", "/metrics", None).await.text;
        if lookups_done(&m) >= 1.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the held look-up never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The look-up's registry write, if any, follows its count at once.
    for _ in 0..20 {
        assert!(
            !is_registered(&gw, "gone").await,
            "the look-up answered before DeleteBucket registered the deleted bucket"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(registered(&gw).await.is_empty());
    assert_eq!(bucket_names(&c).await.unwrap(), BTreeSet::new());
}

/// A look-up that found the bucket missing before a client created it through rebucket ends
/// after the create: the created bucket must still be looked up and registered at once, not
/// held back by that stale failure for the negative cache's 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_up_answered_before_create_bucket_does_not_hold_the_created_bucket_back() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    let proxy = FaultProxy::start(up.addr).await;
    let gw = TestGateway::start(in_front_of(&proxy.endpoint, KEYS_A)).await;
    let c = gw.client();

    // A request on the bucket before it exists starts a look-up; its "no such bucket" is held.
    proxy.hold("HEAD /late");
    let err = c
        .list_objects_v2()
        .bucket("late")
        .send()
        .await
        .expect_err("no bucket yet");
    assert_eq!(err_parts(&err).1, "NoSuchBucket");
    until_held(&proxy).await;
    c.create_bucket()
        .bucket("late")
        .send()
        .await
        .expect("CreateBucket");
    proxy.release();

    let deadline = Instant::now() + Duration::from_secs(5);
    while !is_registered(&gw, "late").await {
        assert!(
            Instant::now() < deadline,
            "not registered 5 s after CreateBucket: the look-up from before it holds it back"
        );
        // Requests on the bucket (each would start a look-up, were none remembered as failed).
        c.list_objects_v2()
            .bucket("late")
            .send()
            .await
            .expect("ListObjectsV2");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// CreateBucket and DeleteBucket start no look-up of their own: one sent with them would find
/// the bucket as it was before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_delete_bucket_send_no_head_bucket_of_their_own_before_them() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    let proxy = FaultProxy::start(up.addr).await;
    let gw = TestGateway::start(in_front_of(&proxy.endpoint, KEYS_A)).await;
    let c = gw.client();
    // The look-up after CreateBucket is held, so the bucket stays unregistered until the
    // DeleteBucket below (an unregistered bucket's requests each start a look-up).
    proxy.hold("HEAD /brief");
    c.create_bucket()
        .bucket("brief")
        .send()
        .await
        .expect("CreateBucket");
    until_held(&proxy).await;
    c.delete_bucket()
        .bucket("brief")
        .send()
        .await
        .expect("DeleteBucket");
    proxy.release();
    let seen: Vec<String> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.contains("/brief"))
        .map(|r| {
            // `HEAD /brief/ HTTP/1.1` as `HEAD /brief`.
            let mut parts = r.split(' ');
            let method = parts.next().unwrap_or("");
            let path = parts.next().unwrap_or("").split('?').next().unwrap_or("");
            format!("{method} {}", path.trim_end_matches('/'))
        })
        .collect();
    assert_eq!(
        seen,
        ["PUT /brief", "HEAD /brief", "DELETE /brief"],
        "one look-up, after CreateBucket answered"
    );
}

// ---------------------------------------------------------------------------------------------
// The churn.

/// Per bucket name: lifecycle calls (create, delete, or any call on a shared name) in flight,
/// and how many ended.
#[derive(Default)]
struct Lifecycle(Mutex<HashMap<String, (u32, u64)>>);

impl Lifecycle {
    fn begin(&self, bucket: &str) {
        self.0
            .lock()
            .unwrap()
            .entry(bucket.to_owned())
            .or_default()
            .0 += 1;
    }
    fn end(&self, bucket: &str) {
        let mut map = self.0.lock().unwrap();
        let e = map.get_mut(bucket).expect("begun");
        e.0 -= 1;
        e.1 += 1;
    }
    fn snapshot(&self) -> HashMap<String, (u32, u64)> {
        self.0.lock().unwrap().clone()
    }
}

/// Whether no lifecycle call on `bucket` was in flight at `before` or `after`, nor ended
/// between them.
fn stable(
    before: &HashMap<String, (u32, u64)>,
    after: &HashMap<String, (u32, u64)>,
    bucket: &str,
) -> bool {
    let b = before.get(bucket).copied().unwrap_or_default();
    let a = after.get(bucket).copied().unwrap_or_default();
    b.0 == 0 && a.0 == 0 && a.1 == b.1
}

/// What the churn counted.
#[derive(Default)]
struct Counts {
    created: AtomicU64,
    deleted: AtomicU64,
    requests: AtomicU64,
    collisions: AtomicU64,
    checks: AtomicU64,
    compared: AtomicU64,
    upstream_errors: AtomicU64,
}

/// Error codes a client may meet on a name other clients use too.
const COLLISION_CODES: [&str; 6] = [
    "NoSuchBucket",
    "NoSuchKey",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "BucketNotEmpty",
    // s3s-fs deletes a bucket's directory while another client writes into it.
    "InternalError",
];

/// The state the clients and the checker share.
struct Churn {
    lifecycle: Lifecycle,
    counts: Counts,
    failures: Mutex<Vec<String>>,
    stop: AtomicBool,
    /// Whether the upstream keeps tags (s3s-fs does not).
    tagging: bool,
}

impl Churn {
    fn fail(&self, what: String) {
        eprintln!("churn failure: {what}");
        self.failures.lock().unwrap().push(what);
    }

    /// One client's work, through its own SDK client `c`, until told to stop.
    async fn client(self: Arc<Self>, id: usize, c: aws_sdk_s3::Client) {
        let c = &c;
        let mut i = 0u64;
        while !self.stop.load(Ordering::SeqCst) {
            i += 1;
            let shared = (id as u64 + i).is_multiple_of(5);
            let bucket = if shared {
                format!("shared-{}", i % SHARED as u64)
            } else {
                format!("c{id}-{i}")
            };
            if let Err(e) = self.cycle(c, &bucket, shared, i).await {
                let code = e.split('|').nth(1).unwrap_or("");
                if shared && COLLISION_CODES.contains(&code) {
                    self.counts.collisions.fetch_add(1, Ordering::Relaxed);
                } else {
                    self.fail(format!("client {id}, bucket {bucket}: {e}"));
                }
            }
        }
    }

    /// Creates `bucket`, uses it, empties and deletes it. An error as `op|code|message`.
    async fn cycle(
        &self,
        c: &aws_sdk_s3::Client,
        bucket: &str,
        shared: bool,
        i: u64,
    ) -> Result<(), String> {
        let counts = &self.counts;
        let call = |op: &'static str| {
            counts.requests.fetch_add(1, Ordering::Relaxed);
            move |e: &dyn std::fmt::Debug, code: Option<&str>, msg: Option<&str>| {
                format!("{op}|{}|{} ({e:?})", code.unwrap_or(""), msg.unwrap_or(""))
            }
        };
        let lifecycle = |f: bool| {
            if f {
                self.lifecycle.begin(bucket);
            }
        };
        let ended = |f: bool| {
            if f {
                self.lifecycle.end(bucket);
            }
        };
        // On a shared name every call counts as a lifecycle call: s3s-fs recreates a deleted
        // bucket's directory when a PutObject into it races the delete.
        let guard = shared;

        self.lifecycle.begin(bucket);
        let e = call("CreateBucket");
        let res = c.create_bucket().bucket(bucket).send().await;
        self.lifecycle.end(bucket);
        res.map_err(|x| e(&x, x.code(), x.message()))?;
        counts.created.fetch_add(1, Ordering::Relaxed);

        // The very next request: the bucket is usable.
        let body = pattern(1000 + (i as usize % 3000), i);
        lifecycle(guard);
        let e = call("PutObject (first request after CreateBucket)");
        let res = c
            .put_object()
            .bucket(bucket)
            .key("first")
            .body(ByteStream::from(body.clone()))
            .send()
            .await;
        ended(guard);
        res.map_err(|x| e(&x, x.code(), x.message()))?;

        lifecycle(guard);
        let e = call("PutObject");
        let res = c
            .put_object()
            .bucket(bucket)
            .key("dir/second")
            .body(ByteStream::from_static(b"second"))
            .send()
            .await;
        ended(guard);
        res.map_err(|x| e(&x, x.code(), x.message()))?;

        let e = call("GetObject");
        let got = c
            .get_object()
            .bucket(bucket)
            .key("first")
            .send()
            .await
            .map_err(|x| e(&x, x.code(), x.message()))?;
        let got = collect(got.body).await;
        if !shared && got != body {
            return Err(format!("GetObject||{} bytes, not what was put", got.len()));
        }

        let e = call("ListObjectsV2");
        let listed = c
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .map_err(|x| e(&x, x.code(), x.message()))?;
        let keys: BTreeSet<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        if !shared && keys != BTreeSet::from(["dir/second", "first"]) {
            return Err(format!("ListObjectsV2||lists {keys:?}"));
        }

        if self.tagging {
            let tagging = Tagging::builder()
                .tag_set(
                    Tag::builder()
                        .key("churn")
                        .value(i.to_string())
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            let e = call("PutBucketTagging");
            c.put_bucket_tagging()
                .bucket(bucket)
                .tagging(tagging.clone())
                .send()
                .await
                .map_err(|x| e(&x, x.code(), x.message()))?;
            let e = call("GetBucketTagging");
            c.get_bucket_tagging()
                .bucket(bucket)
                .send()
                .await
                .map_err(|x| e(&x, x.code(), x.message()))?;
            let e = call("PutObjectTagging");
            c.put_object_tagging()
                .bucket(bucket)
                .key("first")
                .tagging(tagging)
                .send()
                .await
                .map_err(|x| e(&x, x.code(), x.message()))?;
        }

        lifecycle(guard);
        let e = call("DeleteObject");
        let res = c.delete_object().bucket(bucket).key("first").send().await;
        ended(guard);
        res.map_err(|x| e(&x, x.code(), x.message()))?;

        lifecycle(guard);
        let e = call("DeleteObjects");
        let res = c
            .delete_objects()
            .bucket(bucket)
            .delete(
                Delete::builder()
                    .objects(
                        ObjectIdentifier::builder()
                            .key("dir/second")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await;
        ended(guard);
        res.map_err(|x| e(&x, x.code(), x.message()))?;

        self.lifecycle.begin(bucket);
        let e = call("DeleteBucket");
        let res = c.delete_bucket().bucket(bucket).send().await;
        self.lifecycle.end(bucket);
        res.map_err(|x| e(&x, x.code(), x.message()))?;
        counts.deleted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Compares ListBuckets through rebucket with the upstream's own until told to stop.
    async fn checker(self: Arc<Self>, front: aws_sdk_s3::Client, direct: aws_sdk_s3::Client) {
        while !self.stop.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let before = self.lifecycle.snapshot();
            let (through, upstream) =
                match (bucket_names(&front).await, bucket_names(&direct).await) {
                    (Ok(t), Ok(u)) => (t, u),
                    // s3s-fs fails ListBuckets when a bucket goes while it lists: the upstream's
                    // error, passed on as such; the comparison is made again.
                    (Err(e), _) | (_, Err(e)) if e.contains("\"InternalError\"") => {
                        self.counts.upstream_errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    (t, u) => {
                        self.fail(format!("checker: {t:?} / {u:?}"));
                        continue;
                    }
                };
            let after = self.lifecycle.snapshot();
            self.counts.checks.fetch_add(1, Ordering::Relaxed);
            for b in through.symmetric_difference(&upstream) {
                if stable(&before, &after, b) {
                    self.fail(format!(
                        "ListBuckets: {b:?} {} through rebucket, {} on the upstream, and no \
                         client created or deleted it meanwhile",
                        if through.contains(b) {
                            "listed"
                        } else {
                            "missing"
                        },
                        if upstream.contains(b) {
                            "listed"
                        } else {
                            "missing"
                        },
                    ));
                }
            }
            let compared = through
                .union(&upstream)
                .filter(|b| stable(&before, &after, b))
                .count();
            self.counts
                .compared
                .fetch_add(compared as u64, Ordering::Relaxed);
        }
    }
}

/// How long the churn runs: `REBUCKET_CHURN_SECS`, else 15 s.
fn churn_duration() -> Duration {
    let secs = std::env::var("REBUCKET_CHURN_SECS")
        .ok()
        .map(|v| v.parse().expect("REBUCKET_CHURN_SECS: a number of seconds"))
        .unwrap_or(15);
    Duration::from_secs(secs)
}

/// Runs the churn against the upstream at `upstream` (`direct`: a client of it, with `keys`),
/// with the fault proxy slowing every upstream call by about `delay`.
async fn churn(
    upstream: std::net::SocketAddr,
    direct: aws_sdk_s3::Client,
    keys: (&str, &str),
    delay: Duration,
    tagging: bool,
    length: Duration,
) {
    let proxy = FaultProxy::start(upstream).await;
    proxy.set(Fault::Delay(delay)).await;
    let gw = TestGateway::start(in_front_of(&proxy.endpoint, keys)).await;
    let run = Arc::new(Churn {
        lifecycle: Lifecycle::default(),
        counts: Counts::default(),
        failures: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
        tagging,
    });
    let started = Instant::now();
    // Each client its own SDK client (own connection pool), as separate programs would be.
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|id| tokio::spawn(run.clone().client(id, gw.client())))
        .collect();
    let checker = tokio::spawn(run.clone().checker(gw.client(), direct.clone()));
    tokio::time::sleep(length).await;
    run.stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("client task");
    }
    checker.await.expect("checker task");
    let elapsed = started.elapsed();

    // At rest: no client works; look-ups still in flight end within the upstream's delay.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let through = bucket_names(&gw.client())
        .await
        .expect("ListBuckets through rebucket");
    let on_upstream = bucket_names(&direct)
        .await
        .expect("ListBuckets on the upstream");
    let at_rest = registered(&gw).await;
    let stale: Vec<&String> = at_rest
        .iter()
        .filter(|b| !on_upstream.contains(*b))
        .collect();
    let c = &run.counts;
    eprintln!(
        "churn: {CLIENTS} clients, {:.1} s, {} buckets created, {} deleted, {} requests, {} \
         collisions on shared names, {} ListBuckets comparisons ({} stable buckets compared, {} \
         lists failed upstream); \
         at rest {} buckets upstream, {} registered, {} of them stale",
        elapsed.as_secs_f64(),
        c.created.load(Ordering::Relaxed),
        c.deleted.load(Ordering::Relaxed),
        c.requests.load(Ordering::Relaxed),
        c.collisions.load(Ordering::Relaxed),
        c.checks.load(Ordering::Relaxed),
        c.compared.load(Ordering::Relaxed),
        c.upstream_errors.load(Ordering::Relaxed),
        on_upstream.len(),
        at_rest.len(),
        stale.len(),
    );
    let failures = run.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failures, the first ones: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    assert_eq!(
        through, on_upstream,
        "ListBuckets through rebucket vs the upstream, at rest"
    );
    assert!(
        stale.is_empty(),
        "registered although the upstream has no such bucket: {stale:?}"
    );
    assert!(
        c.created.load(Ordering::Relaxed) >= CLIENTS as u64,
        "too little churn to prove anything"
    );
    assert!(
        c.checks.load(Ordering::Relaxed) >= 5,
        "too few ListBuckets comparisons"
    );
}

/// 16 clients churn buckets through rebucket over an s3s-fs upstream slowed by the fault proxy:
/// every created bucket is usable at once, ListBuckets agrees with the upstream's, and the
/// registry keeps no deleted bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_creating_using_and_deleting_buckets_see_one_consistent_bucket_list() {
    let _g = heavy().await;
    let up = Upstream::start(&[KEYS_A]).await;
    churn(
        up.addr,
        s3_client(&up.endpoint, KEYS_A.0, KEYS_A.1),
        KEYS_A,
        Duration::from_millis(5),
        false,
        churn_duration(),
    )
    .await;
}

/// The churn over moto, which keeps bucket and object tags too (GetBucketTagging on a fresh
/// bucket is part of each cycle).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto_server (conformance/setup.sh installs it); CI runs it"]
async fn many_clients_churning_buckets_over_moto_see_one_consistent_bucket_list() {
    let _g = heavy().await;
    let moto = moto::Moto::start();
    let addr: std::net::SocketAddr = moto
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("moto address");
    churn(
        addr,
        s3_client(&moto.url, KEYS_A.0, KEYS_A.1),
        KEYS_A,
        Duration::from_millis(5),
        true,
        churn_duration() / 3,
    )
    .await;
}
