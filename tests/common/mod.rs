//! Shared harness of the integration tests: s3s-fs upstreams on loopback (they check
//! signatures, so they prove which keys signed), a gateway started in-process, S3 clients for
//! the front and the upstreams, an admin API helper, memory probes and the big test file.
#![allow(dead_code)]

pub mod moto;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::retry::RetryConfig;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use md5::{Digest, Md5};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

use rebucket::config::{ServeArgs, ServeConfig};
use rebucket::profiles::{ProfileEnv, ProfileSet};
use rebucket::server::Running;

pub const FRONT_AK: &str = "RBTESTFRONTACCESS001";
pub const FRONT_SK: &str = "frontSecretKey0123456789abcdefghijklmnopq";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// Upstream key pairs. The secrets are long and distinctive so a leak is easy to scan for.
pub const KEYS_A: (&str, &str) = (
    "AKIAUPSTREAMAAAAAAAA",
    "upstreamSecretA0123456789abcdefghijklmnop",
);
pub const KEYS_B: (&str, &str) = (
    "AKIAUPSTREAMBBBBBBBB",
    "upstreamSecretB0123456789abcdefghijklmnop",
);
pub const KEYS_C: (&str, &str) = (
    "AKIAUPSTREAMCCCCCCCC",
    "upstreamSecretC0123456789abcdefghijklmnop",
);

pub const MIB: u64 = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Serialization: memory measurements need the process to themselves.

static SERIAL: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Taken by ordinary tests: they run concurrently with each other.
pub async fn light() -> tokio::sync::RwLockReadGuard<'static, ()> {
    SERIAL.read().await
}

/// Taken by tests that measure memory: they run alone in their test binary.
pub async fn heavy() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    SERIAL.write().await
}

// ---------------------------------------------------------------------------------------------
// S3 clients and errors.

/// An S3 client for `endpoint`: path-style, us-east-1, no retries (a failure must show).
pub fn s3_client(endpoint: &str, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(
            access_key, secret_key, None, None, "itests",
        ))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// HTTP status, error code and message of a failed SDK call.
pub fn err_parts<E, R>(e: &SdkError<E, R>) -> (u16, String, String)
where
    E: ProvideErrorMetadata,
    R: RawStatus,
{
    let status = e.raw_response().map(RawStatus::status_u16).unwrap_or(0);
    (
        status,
        e.code().unwrap_or("").to_owned(),
        e.message().unwrap_or("").to_owned(),
    )
}

/// The status of a raw SDK response.
pub trait RawStatus {
    fn status_u16(&self) -> u16;
}

impl RawStatus for aws_smithy_runtime_api::http::Response {
    fn status_u16(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Reads a whole body.
pub async fn collect(body: ByteStream) -> Vec<u8> {
    body.collect()
        .await
        .expect("read body")
        .into_bytes()
        .to_vec()
}

/// Reads a body chunk by chunk, returning (MD5 hex, length, largest chunk).
pub async fn md5_stream(mut body: ByteStream) -> (String, u64, usize) {
    let mut h = Md5::new();
    let mut len = 0u64;
    let mut largest = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("read body chunk");
        largest = largest.max(chunk.len());
        len += chunk.len() as u64;
        h.update(&chunk);
    }
    (hex(&h.finalize()), len, largest)
}

pub fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

// ---------------------------------------------------------------------------------------------
// Upstreams.

/// Serves `svc` over HTTP/1 and HTTP/2 on a free 127.0.0.1 port until the task is aborted.
async fn serve_on_loopback<S, B>(svc: S) -> (SocketAddr, tokio::task::JoinHandle<()>)
where
    S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let _ = socket.set_nodelay(true);
            let svc = svc.clone();
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(socket), svc)
                    .await;
            });
        }
    });
    (addr, task)
}

/// An s3s-fs server on 127.0.0.1 that accepts only `keys`.
pub struct Upstream {
    pub addr: SocketAddr,
    pub endpoint: String,
    pub dir: tempfile::TempDir,
    pub keys: Vec<(String, String)>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    pub async fn start(keys: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs = s3s_fs::FileSystem::new(dir.path()).expect("s3s-fs");
        let mut b = S3ServiceBuilder::new(fs);
        let mut auth = SimpleAuth::new();
        for (ak, sk) in keys {
            auth.register((*ak).to_owned(), (*sk).into());
        }
        b.set_auth(auth);
        let (addr, task) = serve_on_loopback(b.build()).await;
        Self {
            addr,
            endpoint: format!("http://{addr}"),
            dir,
            keys: keys
                .iter()
                .map(|(a, s)| ((*a).to_owned(), (*s).to_owned()))
                .collect(),
            task,
        }
    }

    /// A client signing with the upstream's first key pair.
    pub fn client(&self) -> aws_sdk_s3::Client {
        s3_client(&self.endpoint, &self.keys[0].0, &self.keys[0].1)
    }

    pub async fn create_bucket(&self, bucket: &str) {
        self.client()
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create {bucket} on {}: {e:?}", self.endpoint));
    }

    pub async fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        self.client()
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {bucket}/{key} on {}: {e:?}", self.endpoint));
    }

    /// The object's bytes, or `None` when the upstream has no such key.
    pub async fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        match self
            .client()
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Some(collect(out.body).await),
            Err(e) if err_parts(&e).1 == "NoSuchKey" => None,
            Err(e) => panic!("get {bucket}/{key} on {}: {e:?}", self.endpoint),
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A canned answer of a [`CannedUpstream`].
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// A plain HTTP server on 127.0.0.1 that is no S3 server: it answers what `answer` says for a
/// request's method and path-and-query, as a proxy in front of an S3 endpoint might (5xx pages,
/// unreadable bodies). What real S3 servers answer is tested against real ones.
pub struct CannedUpstream {
    pub endpoint: String,
    task: tokio::task::JoinHandle<()>,
}

impl CannedUpstream {
    pub async fn start(answer: fn(&str, &str) -> Canned) -> Self {
        let svc = hyper::service::service_fn(
            move |req: http::Request<hyper::body::Incoming>| async move {
                let method = req.method().to_string();
                let target = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                let _ = req.into_body().collect().await;
                let c = answer(&method, &target);
                let mut resp = http::Response::builder().status(c.status);
                for (k, v) in &c.headers {
                    resp = resp.header(*k, v.as_str());
                }
                Ok::<_, std::convert::Infallible>(
                    resp.body(Full::new(Bytes::from(c.body))).expect("response"),
                )
            },
        );
        let (addr, task) = serve_on_loopback(svc).await;
        Self {
            endpoint: format!("http://{addr}"),
            task,
        }
    }

    /// A gateway in front of this upstream (S3_ENDPOINT + env keys).
    pub async fn gateway(&self) -> TestGateway {
        TestGateway::start(GwOpts {
            s3_endpoint: Some(self.endpoint.clone()),
            aws_keys: Some((KEYS_A.0.to_owned(), KEYS_A.1.to_owned())),
            ..GwOpts::default()
        })
        .await
    }
}

impl Drop for CannedUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An endpoint where nothing listens (a listener bound, then dropped).
pub async fn closed_endpoint() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------------
// The gateway.

/// How to start a gateway. `front_keys: None` lets it generate its own.
#[derive(Debug, Clone)]
pub struct GwOpts {
    pub s3_endpoint: Option<String>,
    pub aws_keys: Option<(String, String)>,
    pub aws_profile: Option<String>,
    /// Contents of the AWS `config` file (not written when `None`).
    pub aws_config: Option<String>,
    /// Contents of the AWS `credentials` file (not written when `None`).
    pub aws_credentials: Option<String>,
    pub front_keys: Option<(String, String)>,
    pub admin_token: Option<String>,
}

impl Default for GwOpts {
    fn default() -> Self {
        Self {
            s3_endpoint: None,
            aws_keys: None,
            aws_profile: None,
            aws_config: None,
            aws_credentials: None,
            front_keys: Some((FRONT_AK.into(), FRONT_SK.into())),
            admin_token: Some(ADMIN_TOKEN.into()),
        }
    }
}

impl GwOpts {
    /// S3_ENDPOINT at `upstream`, signing with its first key pair from the environment.
    pub fn upstream(upstream: &Upstream) -> Self {
        Self {
            s3_endpoint: Some(upstream.endpoint.clone()),
            aws_keys: Some(upstream.keys[0].clone()),
            ..Self::default()
        }
    }
}

/// A gateway started in-process, with its own data dir and HOME.
pub struct TestGateway {
    pub running: Option<Running>,
    pub data: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub env: HashMap<String, String>,
    /// The front's first key pair (generated ones included).
    pub front: (String, String),
    pub admin_token: String,
}

impl TestGateway {
    pub async fn start(opts: GwOpts) -> Self {
        let home = tempfile::tempdir().expect("tempdir");
        let data = tempfile::tempdir().expect("tempdir");
        let aws_dir = home.path().join("aws-files");
        std::fs::create_dir_all(&aws_dir).expect("mkdir");
        let config_file = aws_dir.join("config");
        let credentials_file = aws_dir.join("credentials");
        if let Some(text) = &opts.aws_config {
            std::fs::write(&config_file, text).expect("write config");
        }
        if let Some(text) = &opts.aws_credentials {
            std::fs::write(&credentials_file, text).expect("write credentials");
        }
        let mut env = HashMap::new();
        env.insert("HOME".to_owned(), home.path().display().to_string());
        env.insert(
            "AWS_CONFIG_FILE".to_owned(),
            config_file.display().to_string(),
        );
        env.insert(
            "AWS_SHARED_CREDENTIALS_FILE".to_owned(),
            credentials_file.display().to_string(),
        );
        let mut set = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                env.insert(k.to_owned(), v.clone());
            }
        };
        set("S3_ENDPOINT", &opts.s3_endpoint);
        set("AWS_PROFILE", &opts.aws_profile);
        set("REBUCKET_ADMIN_TOKEN", &opts.admin_token);
        set(
            "AWS_ACCESS_KEY_ID",
            &opts.aws_keys.as_ref().map(|k| k.0.clone()),
        );
        set(
            "AWS_SECRET_ACCESS_KEY",
            &opts.aws_keys.as_ref().map(|k| k.1.clone()),
        );
        set(
            "REBUCKET_ACCESS_KEY",
            &opts.front_keys.as_ref().map(|k| k.0.clone()),
        );
        set(
            "REBUCKET_SECRET_KEY",
            &opts.front_keys.as_ref().map(|k| k.1.clone()),
        );
        let mut gw = Self {
            running: None,
            data,
            home,
            env,
            front: (String::new(), String::new()),
            admin_token: String::new(),
        };
        gw.boot().await;
        gw
    }

    async fn boot(&mut self) {
        let args = ServeArgs {
            listen: "127.0.0.1:0".parse().expect("addr"),
            admin_listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: self.data.path().to_owned(),
            config: None,
            domain: Vec::new(),
        };
        let config = ServeConfig::build(args, &self.env).expect("ServeConfig::build");
        self.front = (
            config.users[0].access_key.clone(),
            config.users[0].secret_key.clone(),
        );
        self.admin_token = config.admin_token.clone();
        let running = rebucket::server::start(
            config,
            ProfileEnv {
                vars: self.env.clone(),
            },
        )
        .await
        .expect("server::start");
        self.running = Some(running);
    }

    /// Stops the gateway and starts a new one on the same data dir and environment.
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        self.boot().await;
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("gateway running")
    }

    pub fn s3_addr(&self) -> SocketAddr {
        self.running().s3_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.running().admin_addr
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.s3_addr())
    }

    /// A front client with the gateway's keys.
    pub fn client(&self) -> aws_sdk_s3::Client {
        s3_client(&self.endpoint(), &self.front.0, &self.front.1)
    }

    /// An admin call with the right token.
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> AdminAnswer {
        admin_call(
            self.admin_addr(),
            Some(&self.admin_token),
            method,
            path,
            body,
        )
        .await
    }

    /// `PATCH /v1/buckets/{bucket}/props` with `force`; panics unless 200.
    pub async fn set_props(&self, bucket: &str, props: serde_json::Value) -> AdminAnswer {
        let ans = self
            .admin(
                "PATCH",
                &format!("/v1/buckets/{bucket}/props"),
                Some(serde_json::json!({"props": props, "force": true})),
            )
            .await;
        assert_eq!(ans.status, 200, "set props of {bucket}: {}", ans.text);
        ans
    }
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP (admin API, presigned URLs, anonymous requests).

#[derive(Debug)]
pub struct AdminAnswer {
    pub status: u16,
    pub json: serde_json::Value,
    pub text: String,
}

pub async fn admin_call(
    addr: SocketAddr,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> AdminAnswer {
    let mut headers = Vec::new();
    if let Some(t) = token {
        headers.push(("authorization".to_owned(), format!("Bearer {t}")));
    }
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let (status, _, bytes) =
        http_call(method, &format!("http://{addr}{path}"), &headers, body).await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    AdminAnswer {
        status,
        json: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        text,
    }
}

/// One plain HTTP/1.1 request.
pub async fn http_call(
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> (u16, http::HeaderMap, Bytes) {
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut req = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req.body(Full::new(Bytes::from(body))).expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("HTTP call timed out")
        .expect("HTTP call");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .expect("read body")
        .to_bytes();
    (status, headers, bytes)
}

/// The text of the `<Code>` element of an S3 XML error.
pub fn xml_code(body: &[u8]) -> String {
    xml_element(body, "Code")
}

pub fn xml_element(body: &[u8], name: &str) -> String {
    let text = String::from_utf8_lossy(body);
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    text.split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&close))
        .map(|(v, _)| v.to_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Feature probes for work that lands on other branches.

/// Whether `ProfileSet::load` reads profile files yet (the parser lands on another branch).
pub fn profiles_supported() -> bool {
    static S: OnceLock<bool> = OnceLock::new();
    *S.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("config");
        let creds = dir.path().join("credentials");
        std::fs::write(&cfg, "[profile probe]\nregion = us-east-1\n").expect("write");
        std::fs::write(
            &creds,
            "[probe]\naws_access_key_id = AKIAPROBE\naws_secret_access_key = probe\n",
        )
        .expect("write");
        let mut vars = HashMap::new();
        vars.insert("HOME".to_owned(), dir.path().display().to_string());
        vars.insert("AWS_CONFIG_FILE".to_owned(), cfg.display().to_string());
        vars.insert(
            "AWS_SHARED_CREDENTIALS_FILE".to_owned(),
            creds.display().to_string(),
        );
        ProfileSet::load(&ProfileEnv { vars })
            .map(|s| s.names().iter().any(|n| n == "probe"))
            .unwrap_or(false)
    })
}

/// Prints a notice that a test is skipped until `what` lands; returns `true` when skipping.
pub fn skip_unless(supported: bool, test: &str, what: &str) -> bool {
    if !supported {
        eprintln!(
            "\n!!!!!!!! NOTICE: {test}: SKIPPED (returned early): {what} is not in this branch yet !!!!!!!!\n"
        );
    }
    !supported
}

/// Whether the registry persists to the data dir (lands on the registry branch).
pub fn registry_persists() -> bool {
    let dir = tempfile::tempdir().expect("tempdir");
    let Ok(reg) = rebucket::registry::Registry::open(dir.path()) else {
        return false;
    };
    let res = reg.update(|s| {
        s.buckets.insert("probe".into(), Default::default());
        Ok(())
    });
    drop(reg);
    res.is_ok()
        && rebucket::registry::Registry::open(dir.path())
            .map(|r| r.snapshot().buckets.contains_key("probe"))
            .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// Memory.

/// A field of /proc/self/status, in bytes.
pub fn proc_status_bytes(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Watches the process's resident memory over a window: resets the kernel's peak (VmHWM) when
/// allowed, and samples VmRSS every 20 ms as well.
pub struct MemProbe {
    base_rss: u64,
    base_hwm: u64,
    hwm_reset: bool,
    stop: std::sync::Arc<AtomicBool>,
    max_rss: std::sync::Arc<AtomicU64>,
    sampler: Option<std::thread::JoinHandle<()>>,
}

/// What a window cost.
#[derive(Debug, Clone, Copy)]
pub struct MemReport {
    pub base_rss: u64,
    pub peak_hwm: u64,
    pub max_sampled_rss: u64,
    /// The larger of the two peak estimates minus the baseline.
    pub increase: u64,
    pub hwm_reset: bool,
}

impl MemProbe {
    pub fn start() -> Self {
        let base_hwm = proc_status_bytes("VmHWM");
        let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let base_rss = proc_status_bytes("VmRSS");
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let max_rss = std::sync::Arc::new(AtomicU64::new(base_rss));
        let sampler = {
            let stop = stop.clone();
            let max_rss = max_rss.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    max_rss.fetch_max(proc_status_bytes("VmRSS"), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Self {
            base_rss,
            base_hwm,
            hwm_reset,
            stop,
            max_rss,
            sampler: Some(sampler),
        }
    }

    pub fn finish(mut self, label: &str) -> MemReport {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.sampler.take() {
            let _ = t.join();
        }
        let peak_hwm = proc_status_bytes("VmHWM");
        let max_sampled_rss = self.max_rss.load(Ordering::Relaxed);
        // Without a reset, VmHWM only tells anything if it grew past the old peak.
        let hwm_increase = if self.hwm_reset {
            peak_hwm.saturating_sub(self.base_rss)
        } else {
            peak_hwm.saturating_sub(self.base_hwm)
        };
        let increase = hwm_increase.max(max_sampled_rss.saturating_sub(self.base_rss));
        let r = MemReport {
            base_rss: self.base_rss,
            peak_hwm,
            max_sampled_rss,
            increase,
            hwm_reset: self.hwm_reset,
        };
        println!(
            "MEMORY {label}: baseline VmRSS {:.1} MiB, VmHWM after {:.1} MiB (peak reset: {}), \
             max sampled VmRSS {:.1} MiB => increase {:.1} MiB",
            r.base_rss as f64 / MIB as f64,
            r.peak_hwm as f64 / MIB as f64,
            r.hwm_reset,
            r.max_sampled_rss as f64 / MIB as f64,
            r.increase as f64 / MIB as f64,
        );
        r
    }
}

impl Drop for MemProbe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// The big file, written once per target dir.

pub struct BigFile {
    pub path: PathBuf,
    pub len: u64,
    pub md5: String,
}

/// Larger than 100 MiB, and not a multiple of any buffer size.
pub const BIG_LEN: u64 = 105 * MIB + 12_345;

/// The big test file (generated on first use, reused afterwards); blocking.
pub fn big_file() -> &'static BigFile {
    static F: OnceLock<BigFile> = OnceLock::new();
    F.get_or_init(|| {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rebucket-itest-big.bin");
        let fresh = std::fs::metadata(&path).map(|m| m.len()).ok() != Some(BIG_LEN);
        if fresh {
            use std::io::Write;
            let tmp = path.with_extension("tmp");
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).expect("create"));
            let mut left = BIG_LEN;
            let mut seed = 1;
            while left > 0 {
                let n = left.min(MIB) as usize;
                f.write_all(&pattern(n, seed)).expect("write");
                left -= n as u64;
                seed += 1;
            }
            f.into_inner().expect("flush").sync_all().expect("sync");
            std::fs::rename(&tmp, &path).expect("rename");
        }
        let md5 = {
            use std::io::Read;
            let mut f = std::fs::File::open(&path).expect("open");
            let mut h = Md5::new();
            let mut buf = vec![0u8; MIB as usize];
            loop {
                let n = f.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            hex(&h.finalize())
        };
        BigFile {
            path,
            len: BIG_LEN,
            md5,
        }
    })
}

/// [`big_file`] from async code.
pub async fn big_file_async() -> &'static BigFile {
    tokio::task::spawn_blocking(big_file)
        .await
        .expect("big file")
}
