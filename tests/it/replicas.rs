//! Several replicas over one shared registry (`registry = "s3://BUCKET/KEY"`): three gateways
//! in this process, each with its own data dir, over one registry object on a real S3 server
//! that honours conditional writes — moto_server, and SeaweedFS (`weed`, which keeps its data
//! across a restart). Two s3s-fs upstreams hold a bucket `data` whose object `who` says which
//! upstream served it ("A" or "B"), so a GET proves which route was in force.
//!
//! The moto store is reached through a TCP relay the tests can cut and restore: the store goes
//! away and comes back with its contents.
//!
//! Each test runs alone (`heavy`): they bound propagation in time (1 s) and load the cores with
//! three replicas and their traffic, so neither they nor the other tests bounded in time run
//! beside each other. SeaweedFS is stopped and started again for real.
//! Both need their server on PATH (`conformance/setup.sh` installs them), hence `#[ignore]`;
//! CI runs them (`cargo test -- --include-ignored`).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::common::moto::Moto;
use super::common::{
    GwOpts, KEYS_A, KEYS_B, TestGateway, Upstream, collect, heavy, http_call, s3_client,
};
use rebucket::registry::{Registry, RegistryState};

const STORE_BUCKET: &str = "rebucket-config";
const STORE_KEY: &str = "replicas/registry.json";
/// The bound on propagation: every replica sees a change within this.
const PROPAGATION_BOUND: Duration = Duration::from_secs(1);

/// A TCP relay from a loopback port to `target`, which can be cut (its connections closed,
/// the port refusing) and restored on the same port.
struct Relay {
    port: u16,
    target: String,
    task: Option<JoinHandle<()>>,
}

impl Relay {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut relay = Self {
            port: listener.local_addr().unwrap().port(),
            target,
            task: None,
        };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: TcpListener) {
        let target = self.target.clone();
        self.task = Some(tokio::spawn(async move {
            // Owned by this task: aborting it closes every relayed connection.
            let mut conns = JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                while conns.try_join_next().is_some() {}
                let target = target.clone();
                conns.spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        }));
    }

    async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A SeaweedFS server (`weed server -s3`) on free loopback ports, its data in a temp dir that
/// outlives a stop, so it can be started again with what it held.
struct Seaweed {
    child: Option<Child>,
    dir: tempfile::TempDir,
    ports: Vec<u16>,
    url: String,
}

const WEED_KEYS: (&str, &str) = ("seaweed-ak", "seaweed-secret-key-0123456789");

impl Seaweed {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(
            dir.path().join("s3.json"),
            json!({"identities": [{"name": "admin",
                "credentials": [{"accessKey": WEED_KEYS.0, "secretKey": WEED_KEYS.1}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]})
            .to_string(),
        )
        .unwrap();
        let ports: Vec<u16> = (0..9)
            .map(|_| {
                std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port()
            })
            .collect();
        let mut weed = Self {
            child: None,
            url: format!("http://127.0.0.1:{}", ports[6]),
            dir,
            ports,
        };
        weed.boot();
        weed
    }

    fn boot(&mut self) {
        let d = self.dir.path();
        let p = &self.ports;
        let child = Command::new("weed")
            .current_dir(d)
            .args([
                "server".to_owned(),
                format!("-dir={}", d.join("data").display()),
                "-ip=127.0.0.1".into(),
                "-ip.bind=127.0.0.1".into(),
                "-master.telemetry=false".into(),
                "-master.volumeSizeLimitMB=32".into(),
                "-volume.max=0".into(),
                format!("-master.port={}", p[0]),
                format!("-master.port.grpc={}", p[1]),
                format!("-volume.port={}", p[2]),
                format!("-volume.port.grpc={}", p[3]),
                format!("-filer.port={}", p[4]),
                format!("-filer.port.grpc={}", p[5]),
                format!("-filer.localSocket={}", d.join("filer.sock").display()),
                "-s3".into(),
                format!("-s3.port={}", p[6]),
                format!("-s3.port.grpc={}", p[7]),
                format!("-s3.localSocket={}", d.join("s3.sock").display()),
                "-s3.port.iceberg=0".into(),
                "-s3.port.lance=0".into(),
                format!("-s3.config={}", d.join("s3.json").display()),
                format!("-metricsPort={}", p[8]),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start weed (conformance/setup.sh installs it)");
        self.child = Some(child);
    }

    /// Waits until the S3 API answers (ListBuckets).
    async fn ready(&self) {
        let client = s3_client(&self.url, WEED_KEYS.0, WEED_KEYS.1);
        let deadline = Instant::now() + Duration::from_secs(90);
        while client.list_buckets().send().await.is_err() {
            assert!(Instant::now() < deadline, "SeaweedFS did not start");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Stops the server (SIGINT, as the conformance harness does) and waits for it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Three replicas over one registry object at `store_url`, and the two upstreams.
struct Cluster {
    a: Upstream,
    b: Upstream,
    replicas: Vec<TestGateway>,
}

async fn cluster(store_url: &str, store_keys: (&str, &str)) -> Cluster {
    let a = Upstream::start(&[KEYS_A]).await;
    let b = Upstream::start(&[KEYS_B]).await;
    for (up, who) in [(&a, b"A"), (&b, b"B")] {
        up.create_bucket("data").await;
        up.put("data", "who", who).await;
    }
    let credentials = format!(
        "[a]\naws_access_key_id = {}\naws_secret_access_key = {}\n\
         [b]\naws_access_key_id = {}\naws_secret_access_key = {}\n\
         [store]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        KEYS_A.0, KEYS_A.1, KEYS_B.0, KEYS_B.1, store_keys.0, store_keys.1
    );
    let config = format!(
        "registry = \"s3://{STORE_BUCKET}/{STORE_KEY}\"\n\
         registry_endpoint = \"{store_url}\"\n\
         registry_profile = \"store\"\n"
    );
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(
            TestGateway::start(GwOpts {
                aws_credentials: Some(credentials.clone()),
                config_toml: Some(config.clone()),
                ..GwOpts::default()
            })
            .await,
        );
    }
    Cluster { a, b, replicas }
}

impl Cluster {
    fn registry(&self, i: usize) -> Arc<Registry> {
        self.replicas[i].running().gateway.registry().clone()
    }

    /// Routes `data` to upstream A or B through replica `via`; the version it stored.
    async fn route_data(&self, via: usize, to_b: bool) -> u64 {
        let (up, profile) = if to_b { (&self.b, "b") } else { (&self.a, "a") };
        self.replicas[via]
            .set_props(
                "data",
                json!({"extra.aws.endpoint": up.endpoint, "extra.aws.profile": profile}),
            )
            .await;
        self.registry(via).snapshot().version
    }

    /// Waits until every replica's snapshot satisfies `ok`; the time it took the slowest.
    async fn all_see(&self, bound: Duration, ok: impl Fn(&RegistryState) -> bool) -> Duration {
        let start = Instant::now();
        loop {
            if (0..self.replicas.len()).all(|i| ok(&self.registry(i).snapshot())) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < bound,
                "not every replica saw the change within {bound:?}: versions {:?}",
                (0..self.replicas.len())
                    .map(|i| self.registry(i).snapshot().version)
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// GETs `data/who` through every replica until `stop`; every GET must succeed, and one
    /// that started and ended under the same registry version must be served by the upstream
    /// that version names. Returns (GETs, GETs checked against their snapshot).
    fn traffic(&self, stop: &Arc<AtomicBool>) -> Vec<JoinHandle<(u64, u64)>> {
        (0..self.replicas.len())
            .map(|i| {
                let client = self.replicas[i].client();
                let registry = self.registry(i);
                let stop = stop.clone();
                tokio::spawn(async move {
                    let (mut served, mut checked) = (0, 0);
                    while !stop.load(Ordering::Relaxed) {
                        let before = registry.snapshot();
                        let out = client
                            .get_object()
                            .bucket("data")
                            .key("who")
                            .send()
                            .await
                            .unwrap_or_else(|e| panic!("GET through replica {i}: {e:?}"));
                        let body = collect(out.body).await;
                        let after = registry.snapshot();
                        served += 1;
                        if before.version == after.version {
                            let profile = before.buckets["data"].profile.as_deref().unwrap();
                            let want: &[u8] = if profile == "b" { b"B" } else { b"A" };
                            assert_eq!(
                                body, want,
                                "replica {i} served version {} from the wrong upstream",
                                before.version
                            );
                            checked += 1;
                        }
                    }
                    (served, checked)
                })
            })
            .collect()
    }
}

fn profile_of(s: &RegistryState, bucket: &str) -> Option<String> {
    s.buckets
        .get(bucket)
        .and_then(|p| p.profile.as_deref().map(str::to_owned))
}

/// The p-th percentile (0..=100) of `sorted`.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() - 1) * p / 100]
}

async fn readyz(gw: &TestGateway) -> (u16, serde_json::Value) {
    let (status, _, body) = http_call(
        "GET",
        &format!("http://{}/readyz", gw.admin_addr()),
        &[],
        Vec::new(),
    )
    .await;
    (status, serde_json::from_slice(&body).unwrap())
}

async fn make_store_bucket(url: &str, keys: (&str, &str)) {
    s3_client(url, keys.0, keys.1)
        .create_bucket()
        .bucket(STORE_BUCKET)
        .send()
        .await
        .expect("create the store's bucket");
}

/// Churns `data`'s route through random replicas while GETs flow through all three; `writers`
/// replicas write M registrations each at the same time. Asserts what the replicas promise
/// (every change everywhere within [`PROPAGATION_BOUND`], none lost, GETs served by the route
/// in force) and prints the propagation latency and the idle request rate.
async fn churn_and_measure(c: &Cluster, store: &str) {
    let v = c.route_data(0, false).await;
    c.all_see(PROPAGATION_BOUND, |s| {
        s.version >= v && profile_of(s, "data").as_deref() == Some("a")
    })
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = c.traffic(&stop);

    // Every change visible on every replica within 1 s.
    let mut latencies = Vec::new();
    for i in 0..24 {
        let via = rand::random_range(0..c.replicas.len());
        let to_b = i % 2 == 0;
        let v = c.route_data(via, to_b).await;
        let want = if to_b { "b" } else { "a" };
        latencies.push(
            c.all_see(PROPAGATION_BOUND, |s| {
                s.version >= v && profile_of(s, "data").as_deref() == Some(want)
            })
            .await,
        );
    }

    // N writers × M updates, at the same time on different replicas: all land.
    const M: usize = 6;
    let n = c.replicas.len();
    let mut writers = Vec::new();
    for w in 0..n {
        let gw = &c.replicas[w];
        writers.push(async move {
            for j in 0..M {
                gw.set_props(
                    &format!("w{w}-{j}"),
                    json!({"extra.aws.cloud_region": "eu-west-1"}),
                )
                .await;
            }
        });
    }
    futures::future::join_all(writers).await;
    c.all_see(PROPAGATION_BOUND, |s| {
        (0..n).all(|w| (0..M).all(|j| s.buckets.contains_key(&format!("w{w}-{j}"))))
    })
    .await;

    stop.store(true, Ordering::Relaxed);
    let (mut served, mut checked) = (0, 0);
    for t in traffic {
        let (s, k) = t.await.expect("traffic task");
        served += s;
        checked += k;
    }
    assert!(checked > 0, "no GET ran under one snapshot ({served} GETs)");

    // At idle: the store's requests per replica per second.
    let metrics: Vec<_> = c
        .replicas
        .iter()
        .map(|r| r.running().gateway.metrics().clone())
        .collect();
    let before: Vec<u64> = metrics
        .iter()
        .map(|m| m.registry_store_requests())
        .collect();
    let idle = Duration::from_secs(3);
    tokio::time::sleep(idle).await;
    let rates: Vec<f64> = metrics
        .iter()
        .zip(&before)
        .map(|(m, b)| (m.registry_store_requests() - b) as f64 / idle.as_secs_f64())
        .collect();
    latencies.sort();
    println!(
        "replicas over {store}: propagation to all 3 replicas over {} changes: p50 {:?}, p99 {:?}, max {:?}; \
         {served} GETs during churn ({checked} checked against their snapshot); \
         store requests per replica per second at idle: {rates:.2?}",
        latencies.len(),
        percentile(&latencies, 50),
        percentile(&latencies, 99),
        latencies.last().unwrap(),
    );
    for r in rates {
        assert!(r <= 5.0, "{r} store requests per second at idle");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs moto_server (conformance/setup.sh installs it)"]
async fn three_replicas_on_moto_see_every_change_within_a_second_and_lose_none() {
    let _g = heavy().await;
    let moto = Moto::start();
    make_store_bucket(&moto.url, ("testing", "testing")).await;
    let c = cluster(&moto.url, ("testing", "testing")).await;
    churn_and_measure(&c, "moto").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs moto_server (conformance/setup.sh installs it)"]
async fn a_store_that_goes_away_stops_no_traffic_refuses_changes_and_is_caught_up_with() {
    let _g = heavy().await;
    let moto = Moto::start();
    make_store_bucket(&moto.url, ("testing", "testing")).await;
    let mut relay = Relay::start(moto.url.trim_start_matches("http://").to_owned()).await;
    let store_url = format!("http://127.0.0.1:{}", relay.port);
    let mut c = cluster(&store_url, ("testing", "testing")).await;
    let v = c.route_data(1, false).await;
    c.all_see(PROPAGATION_BOUND, |s| s.version >= v).await;
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = c.traffic(&stop);

    relay.cut().await;
    // Every replica notices within a poll or two, and says so without leaving service.
    let deadline = Instant::now() + Duration::from_secs(3);
    for gw in &c.replicas {
        loop {
            let (status, body) = readyz(gw).await;
            assert_eq!(status, 200, "a replica left service: {body}");
            let detail = body["checks"]["registry_store"]
                .as_str()
                .unwrap()
                .to_owned();
            if detail.starts_with("degraded") {
                assert!(detail.contains("serving the last snapshot"), "{detail}");
                break;
            }
            assert!(Instant::now() < deadline, "store down not reported: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let metrics = c.replicas[0].admin("GET", "/metrics", None).await.text;
    assert!(
        metrics.contains("rebucket_registry_store_up 0"),
        "{metrics}"
    );
    let refused = c.replicas[2]
        .admin(
            "PATCH",
            "/v1/buckets/data/props",
            Some(json!({"props": {"extra.aws.profile": "b"}, "force": true})),
        )
        .await;
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert!(refused.text.contains("unreachable"), "{}", refused.text);

    // Traffic went on while the store was away (replica 2 restarts below on another port).
    stop.store(true, Ordering::Relaxed);
    let mut served = 0;
    for t in traffic {
        served += t
            .await
            .expect("traffic task: a GET failed while the store was away")
            .0;
    }

    // A replica restarted meanwhile starts from its cached copy; a new one refuses to start.
    c.replicas[2].restart().await;
    assert_eq!(c.registry(2).snapshot().version, v);
    let fresh = tempfile::tempdir().unwrap();
    let args = rebucket::config::ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: fresh.path().to_owned(),
        config: c.replicas[0].config.clone(),
        domain: Vec::new(),
        log_format: Default::default(),
        metrics_listen: None,
    };
    let env = c.replicas[0].env.clone();
    let config = rebucket::config::ServeConfig::build(args, &env).unwrap();
    let cold = rebucket::server::start(config, rebucket::profiles::ProfileEnv { vars: env }).await;
    let err = cold
        .err()
        .expect("a cold replica started without its store");
    assert!(err.to_string().contains("no local cached copy"), "{err}");

    let stop = Arc::new(AtomicBool::new(false));
    let traffic = c.traffic(&stop);

    // Another writer changes the store while the replicas cannot see it.
    let store = s3_client(&moto.url, "testing", "testing");
    let out = store
        .get_object()
        .bucket(STORE_BUCKET)
        .key(STORE_KEY)
        .send()
        .await
        .unwrap();
    let mut state: serde_json::Value = serde_json::from_slice(&collect(out.body).await).unwrap();
    let next = state["version"].as_u64().unwrap() + 1;
    state["version"] = json!(next);
    state["buckets"]["data"]["profile"] = json!("b");
    state["buckets"]["data"]["endpoint"] = json!(c.b.endpoint);
    store
        .put_object()
        .bucket(STORE_BUCKET)
        .key(STORE_KEY)
        .body(state.to_string().into_bytes().into())
        .send()
        .await
        .unwrap();

    relay.restore().await;
    let caught_up = c
        .all_see(Duration::from_secs(3), |s| {
            s.version == next && profile_of(s, "data").as_deref() == Some("b")
        })
        .await;
    for gw in &c.replicas {
        let (_, body) = readyz(gw).await;
        assert_eq!(body["checks"]["registry_store"], "ok", "{body}");
    }
    c.route_data(0, false).await;
    stop.store(true, Ordering::Relaxed);
    for t in traffic {
        served += t
            .await
            .expect("traffic task: a GET failed while the store was away or came back")
            .0;
    }
    assert!(served > 0);
    println!("caught up {caught_up:?} after the store came back; {served} GETs, none failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs weed (SeaweedFS; conformance/setup.sh installs it)"]
async fn three_replicas_on_seaweedfs_lose_no_change_and_outlive_its_restart() {
    let _g = heavy().await;
    let mut weed = Seaweed::start();
    weed.ready().await;
    make_store_bucket(&weed.url, WEED_KEYS).await;
    let c = cluster(&weed.url, WEED_KEYS).await;
    churn_and_measure(&c, "SeaweedFS").await;

    let v = c.registry(0).snapshot().version;
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = c.traffic(&stop);
    weed.stop();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let refused = c.replicas[1]
        .admin(
            "PATCH",
            "/v1/buckets/data/props",
            Some(json!({"props": {"extra.aws.profile": "b"}, "force": true})),
        )
        .await;
    assert_eq!(refused.status, 503, "{}", refused.text);
    weed.boot();
    weed.ready().await;
    // The store kept the registry across its restart: writes resume on top of it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ans = c.replicas[1]
            .admin(
                "PATCH",
                "/v1/buckets/data/props",
                Some(json!({"props": {"extra.aws.profile": "b", "extra.aws.endpoint": c.b.endpoint}, "force": true})),
            )
            .await;
        if ans.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "writes did not resume: {}",
            ans.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.all_see(PROPAGATION_BOUND, |s| {
        s.version == v + 1 && profile_of(s, "data").as_deref() == Some("b")
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for t in traffic {
        t.await
            .expect("traffic task: a GET failed while SeaweedFS restarted");
    }
}

/// A replica as a child process of the real binary, on fixed loopback ports, configured as
/// `like` (its config file, environment and keys) with a data dir of its own.
struct ChildReplica {
    child: Child,
    s3: String,
    admin: std::net::SocketAddr,
    data: tempfile::TempDir,
    config: std::path::PathBuf,
    env: std::collections::HashMap<String, String>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ChildReplica {
    fn start(like: &TestGateway) -> Self {
        let mut replica = Self {
            child: Command::new("true").spawn().unwrap(),
            s3: format!("127.0.0.1:{}", free_port()),
            admin: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
            data: tempfile::tempdir().unwrap(),
            config: like.config.clone().unwrap(),
            env: like.env.clone(),
        };
        replica.spawn();
        replica
    }

    fn spawn(&mut self) {
        let _ = self.child.wait();
        self.child = Command::new(env!("CARGO_BIN_EXE_rebucket"))
            .env_clear()
            .envs(&self.env)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .arg("serve")
            .arg(format!("--listen={}", self.s3))
            .arg(format!("--admin-listen={}", self.admin))
            .arg(format!("--data-dir={}", self.data.path().display()))
            .arg(format!("--config={}", self.config.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the rebucket binary");
    }

    async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = TcpStream::connect(self.admin).await.is_ok();
            if up {
                let (status, _, _) = http_call(
                    "GET",
                    &format!("http://{}/readyz", self.admin),
                    &[],
                    Vec::new(),
                )
                .await;
                if status == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "the child replica did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Registers `bucket` through this replica's admin API; whether it answered 200.
    async fn register(&self, token: &str, bucket: &str) -> bool {
        let body = json!({"props": {"extra.aws.cloud_region": "eu-west-1"}, "force": true});
        let uri = format!("http://{}/v1/buckets/{bucket}/props", self.admin);
        let headers = [("authorization".to_owned(), format!("Bearer {token}"))];
        // A killed replica answers nothing; http_call panics on a broken connection.
        let call = tokio::spawn(async move {
            http_call("PATCH", &uri, &headers, body.to_string().into_bytes()).await
        });
        match call.await {
            Ok((status, _, _)) => status == 200,
            Err(_) => false,
        }
    }
}

impl Drop for ChildReplica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs moto_server (conformance/setup.sh installs it)"]
async fn a_replica_killed_mid_write_restarts_on_the_shared_state_and_no_acknowledged_change_is_lost()
 {
    let _g = heavy().await;
    let moto = Moto::start();
    make_store_bucket(&moto.url, ("testing", "testing")).await;
    let c = cluster(&moto.url, ("testing", "testing")).await;
    let mut child = ChildReplica::start(&c.replicas[0]);
    child.ready().await;
    let token = c.replicas[0].admin_token.clone();

    // The child writes as fast as it can; replica 0 writes at the same time; the child is
    // killed (SIGKILL) in the middle.
    let child_writes = {
        let (admin, token) = (child.admin, token.clone());
        tokio::spawn(async move {
            let probe = ChildReplica {
                child: Command::new("true").spawn().unwrap(),
                s3: String::new(),
                admin,
                data: tempfile::tempdir().unwrap(),
                config: Default::default(),
                env: Default::default(),
            };
            let mut acknowledged = Vec::new();
            for j in 0..200 {
                if !probe.register(&token, &format!("kk-{j}")).await {
                    break;
                }
                acknowledged.push(format!("kk-{j}"));
            }
            acknowledged
        })
    };
    let other_writes = async {
        for j in 0..10 {
            c.replicas[0]
                .set_props(
                    &format!("pp-{j}"),
                    json!({"extra.aws.cloud_region": "eu-west-1"}),
                )
                .await;
        }
    };
    let kill = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        child.child.kill().expect("kill -9 the child replica");
    };
    tokio::join!(other_writes, kill);
    let acknowledged = child_writes.await.unwrap();
    assert!(
        !acknowledged.is_empty() && acknowledged.len() < 200,
        "the kill did not land mid-write: {} writes acknowledged",
        acknowledged.len()
    );

    println!(
        "the child replica acknowledged {} writes before its kill -9",
        acknowledged.len()
    );

    // The store holds a whole registry, with every acknowledged write of both writers.
    let out = s3_client(&moto.url, "testing", "testing")
        .get_object()
        .bucket(STORE_BUCKET)
        .key(STORE_KEY)
        .send()
        .await
        .unwrap();
    let stored: RegistryState = serde_json::from_slice(&collect(out.body).await)
        .expect("the registry object is whole after a kill -9 mid-write");
    let want: Vec<String> = acknowledged
        .iter()
        .cloned()
        .chain((0..10).map(|j| format!("pp-{j}")))
        .collect();
    for b in &want {
        assert!(stored.buckets.contains_key(b), "{b} lost");
    }
    c.all_see(PROPAGATION_BOUND, |s| {
        want.iter().all(|b| s.buckets.contains_key(b))
    })
    .await;

    // Restarted on its data dir, it serves the shared state and writes again.
    child.spawn();
    child.ready().await;
    assert!(child.register(&token, "after-restart").await);
    c.all_see(PROPAGATION_BOUND, |s| {
        s.buckets.contains_key("after-restart")
    })
    .await;
    let (_, _, body) = http_call(
        "GET",
        &format!("http://{}/v1/buckets", child.admin),
        &[("authorization".to_owned(), format!("Bearer {token}"))],
        Vec::new(),
    )
    .await;
    let listed: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let names: Vec<&str> = listed["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    for b in want.iter().map(String::as_str).chain(["after-restart"]) {
        assert!(
            names.contains(&b),
            "the restarted replica misses {b}: {names:?}"
        );
    }
}
