//! The connection load test: the real `rebucket serve` binary (the build `cargo test` made, so
//! a debug build under plain `cargo test`) as a child process in front of an s3s-fs upstream
//! in this process, holding 1,000 client connections at once, each its own keep-alive HTTP/1.1
//! connection sending a mix of 4 KiB GET, 4 KiB PUT and ListObjectsV2 back to back.
//!
//! It samples the child's memory (`VmRSS`, `VmHWM` in `/proc/PID/status`) and open file
//! descriptors (`/proc/PID/fd`) during the run and asserts: no errors, peak RSS under 256 MiB,
//! the descriptors bounded by the connections; then it opens connections past
//! `max_connections` and asserts that the extra ones, and only they, get `503 SlowDown` and are
//! closed, and that the 1,000 connections still work.
//!
//! `REBUCKET_LOAD_SECS` sets the load's length (default 10; CI runs 60). The figures are
//! printed (`--nocapture`); the last ones are in the README ("Performance").
//!
//! Requests are signed with SigV4 (`aws-sigv4`, `UNSIGNED-PAYLOAD`, path style) as the Amazon
//! S3 API Reference, "Authenticating Requests (AWS Signature Version 4)", describes.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

/// Client connections held at once.
const CONNECTIONS: usize = 1000;
/// The listener's `max_connections`.
const MAX_CONNECTIONS: usize = 1100;
/// Connections opened past the 1,000 to reach beyond the limit.
const EXTRA: usize = 200;
/// Peak RSS the gateway must stay under.
const RSS_LIMIT: u64 = 256 * MIB;
/// Descriptors the gateway holds besides its client and upstream connections (listeners,
/// epoll, files, the runtime's pipes).
const FD_SLACK: usize = 64;
const BUCKET: &str = "load";
const SMALL: usize = 4096;
const LIST_KEYS: usize = 100;

type Body = Full<Bytes>;

/// Signs requests for the gateway with the front's keys.
struct Signer {
    authority: String,
    identity: Identity,
}

impl Signer {
    fn request(&self, method: &str, path_and_query: &str, body: Bytes) -> http::Request<Body> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(http::header::HOST, &self.authority)
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(Full::new(body))
            .expect("request");
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region("us-east-1")
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        let url = format!("http://{}{}", self.authority, path_and_query);
        let headers = req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().expect("ascii header")));
        let signable =
            SignableRequest::new(method, url.as_str(), headers, SignableBody::UnsignedPayload)
                .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        instructions.apply_to_request_http1x(&mut req);
        req
    }

    /// The `n`-th request of connection `conn`: GET, PUT and LIST in turn.
    fn mixed(&self, conn: usize, n: u64, object: &Bytes) -> (Op, http::Request<Body>) {
        match (conn as u64 + n) % 3 {
            0 => (
                Op::Get,
                self.request("GET", &format!("/{BUCKET}/small"), Bytes::new()),
            ),
            1 => (
                Op::Put,
                self.request("PUT", &format!("/{BUCKET}/put/{conn}"), object.clone()),
            ),
            _ => (
                Op::List,
                self.request(
                    "GET",
                    &format!("/{BUCKET}?list-type=2&max-keys={LIST_KEYS}&prefix=list%2F"),
                    Bytes::new(),
                ),
            ),
        }
    }

    /// A request as raw HTTP/1.1 bytes (for plain sockets).
    fn raw(&self, req: &http::Request<Body>) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", req.method(), req.uri()).into_bytes();
        for (k, v) in req.headers() {
            out.extend_from_slice(k.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Get,
    Put,
    List,
}

/// What the load counted.
#[derive(Default)]
struct Tally {
    ok: [AtomicU64; 3],
    errors: AtomicU64,
    first_errors: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_errors.lock().unwrap();
        if first.len() < 10 {
            first.push(what);
        }
    }
}

/// One client connection to the gateway.
type Sender = hyper::client::conn::http1::SendRequest<Body>;

async fn connect(addr: std::net::SocketAddr) -> Sender {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the gateway");
    tcp.set_nodelay(true).expect("nodelay");
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

/// Sends `req` on `sender`; the status and the body's length, or why it failed.
async fn exchange(sender: &mut Sender, req: http::Request<Body>) -> Result<(u16, Bytes), String> {
    sender
        .ready()
        .await
        .map_err(|e| format!("not ready: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok((status, body))
}

/// The gateway as a child process, killed when dropped.
struct Served {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// What `/proc/PID` says of the gateway: RSS and its peak (bytes), open descriptors.
fn sample(pid: u32) -> Option<(u64, u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((kib("VmRSS:")?, kib("VmHWM:")?, fds))
}

/// The soft limit of open files of this process (the child inherits it).
fn open_files_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}

fn load_duration() -> Duration {
    let secs = std::env::var("REBUCKET_LOAD_SECS")
        .ok()
        .map(|v| v.parse().expect("REBUCKET_LOAD_SECS: a number of seconds"))
        .unwrap_or(10);
    Duration::from_secs(secs)
}

/// 1,000 connections of mixed GET/PUT/LIST through `rebucket serve`: no errors, peak RSS under
/// 256 MiB, descriptors bounded, clean refusals past `max_connections`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_of_mixed_load_stay_under_256_mib_and_past_the_limit_are_refused_cleanly()
 {
    let _g = heavy().await;
    // This process holds the client sockets and the upstream's; the gateway both sides.
    let needed = (CONNECTIONS + EXTRA) as u64 * 2 + 512;
    assert!(
        open_files_limit() >= needed,
        "the soft limit of open files is {}, this test needs {needed}: raise it (`ulimit -n \
         4096`) before running it",
        open_files_limit()
    );

    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket(BUCKET).await;
    let object = Bytes::from(pattern(SMALL, 7));
    up.put(BUCKET, "small", &object).await;
    for i in 0..LIST_KEYS {
        up.put(BUCKET, &format!("list/{i:04}"), b"x").await;
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("rebucket.toml");
    // The connections idle between the load and the refusals: no timeout may close them.
    std::fs::write(
        &config,
        format!(
            "max_connections = {MAX_CONNECTIONS}\nidle_timeout_ms = 300000\n\
             header_read_timeout_ms = 300000\n"
        ),
    )
    .expect("write config");
    let (s3_port, admin_port) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_rebucket"))
        .args(["serve", "--listen", &format!("127.0.0.1:{s3_port}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("AWS_CONFIG_FILE", dir.path().join("no-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.path().join("no-credentials"),
        )
        .env("S3_ENDPOINT", &up.endpoint)
        .env("AWS_ACCESS_KEY_ID", KEYS_A.0)
        .env("AWS_SECRET_ACCESS_KEY", KEYS_A.1)
        .env("REBUCKET_ACCESS_KEY", FRONT_AK)
        .env("REBUCKET_SECRET_KEY", FRONT_SK)
        .env("REBUCKET_ADMIN_TOKEN", ADMIN_TOKEN)
        // One log line per request would be the gateway's busiest work; warnings stay.
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start rebucket serve");
    let pid = child.id();
    let _child = Served { child, _dir: dir };
    let addr: std::net::SocketAddr = format!("127.0.0.1:{s3_port}").parse().unwrap();
    let admin: std::net::SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "rebucket serve did not listen");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let signer = Arc::new(Signer {
        authority: addr.to_string(),
        identity: aws_credential_types::Credentials::new(FRONT_AK, FRONT_SK, None, None, "load")
            .into(),
    });
    let (rss_at_start, _, fds_at_start) = sample(pid).expect("/proc of the gateway");

    // All connections open, each with one answered request.
    let mut senders = Vec::with_capacity(CONNECTIONS);
    for batch in 0..CONNECTIONS / 100 {
        let opened = futures::future::join_all((0..100).map(|i| {
            let signer = signer.clone();
            async move {
                let mut s = connect(addr).await;
                let req = signer.request("GET", &format!("/{BUCKET}/small"), Bytes::new());
                let (status, _) = exchange(&mut s, req).await.expect("first request");
                assert_eq!(
                    status,
                    200,
                    "first request of connection {}",
                    batch * 100 + i
                );
                s
            }
        }))
        .await;
        senders.extend(opened);
    }
    let open_metric = |text: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with("rebucket_open_connections{listener=\"s3\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0.0)
    };
    let metrics = admin_call(admin, None, "GET", "/metrics", None).await.text;
    let open_now = open_metric(&metrics);
    assert!(
        open_now >= CONNECTIONS as f64,
        "the gateway counts {open_now} open S3 connections, not {CONNECTIONS}"
    );

    // The load, sampled every 100 ms.
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(tokio::sync::Notify::new());
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let (mut rss, mut fds) = (0u64, 0usize);
            loop {
                if let Some((r, _, f)) = sample(pid) {
                    rss = rss.max(r);
                    fds = fds.max(f);
                }
                tokio::select! {
                    _ = stop.notified() => return (rss, fds),
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        })
    };
    let length = load_duration();
    let started = Instant::now();
    let until = started + length;
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(conn, mut sender)| {
            let (signer, tally, object) = (signer.clone(), tally.clone(), object.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < until {
                    n += 1;
                    let (op, req) = signer.mixed(conn, n, &object);
                    match exchange(&mut sender, req).await {
                        Ok((200, body)) => {
                            if matches!(op, Op::Get) && body != object {
                                tally
                                    .error(format!("{op:?}: {} bytes, not the object", body.len()));
                            } else {
                                tally.ok[op as usize].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Ok((status, body)) => tally.error(format!(
                            "{op:?}: {status} {}",
                            String::from_utf8_lossy(&body)
                        )),
                        Err(e) => {
                            tally.error(format!("{op:?}: {e}"));
                            sender = connect(addr).await;
                        }
                    }
                }
                sender
            })
        })
        .collect();
    let mut senders = Vec::with_capacity(CONNECTIONS);
    for t in tasks {
        senders.push(t.await.expect("connection task"));
    }
    let elapsed = started.elapsed();
    stop.notify_one();
    let (peak_rss_sampled, peak_fds) = sampler.await.expect("sampler");
    let (_, hwm, _) = sample(pid).expect("/proc of the gateway");
    let [get, put, list] = [0, 1, 2].map(|i| tally.ok[i].load(Ordering::Relaxed));
    let errors = tally.errors.load(Ordering::Relaxed);
    let total = get + put + list;

    // Past the limit: 1,000 open, room for 100 more; 200 more try.
    let refusals = futures::future::join_all((0..EXTRA).map(|_| {
        let signer = signer.clone();
        async move {
            let mut s = tokio::net::TcpStream::connect(addr)
                .await
                .expect("connect past the limit");
            let req = signer.request("GET", &format!("/{BUCKET}/small"), Bytes::new());
            // A refused connection may be closed before the request is written.
            let _ = s.write_all(&signer.raw(&req)).await;
            let mut got = Vec::new();
            let mut buf = [0u8; 8192];
            let read = tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) => return true,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(_) => return false,
                    }
                    // An admitted connection keeps going after its answer.
                    if got.starts_with(b"HTTP/1.1 200") && got.len() >= SMALL {
                        return false;
                    }
                }
            })
            .await;
            let text = String::from_utf8_lossy(&got).into_owned();
            (read.unwrap_or(false), text, s)
        }
    }))
    .await;
    let mut admitted = 0;
    let mut refused = 0;
    let mut other = Vec::new();
    for (closed, text, _) in &refusals {
        if text.starts_with("HTTP/1.1 200") {
            admitted += 1;
        } else if text.starts_with("HTTP/1.1 503")
            && text.contains("<Code>SlowDown</Code>")
            && *closed
        {
            refused += 1;
        } else {
            other.push(text.chars().take(200).collect::<String>());
        }
    }
    drop(refusals);
    // The 1,000 connections still work.
    let mut still = 0;
    for (conn, sender) in senders.iter_mut().enumerate() {
        let req = signer.request("GET", &format!("/{BUCKET}/small"), Bytes::new());
        match exchange(sender, req).await {
            Ok((200, _)) => still += 1,
            res => tally.error(format!("connection {conn} after the refusals: {res:?}")),
        }
    }

    eprintln!(
        "load: rebucket serve ({} build), {CONNECTIONS} connections, {:.1} s, {total} requests \
         ({get} GET 4 KiB, {put} PUT 4 KiB, {list} ListObjectsV2 of {LIST_KEYS} keys), {:.0} \
         req/s, {errors} errors; RSS {} MiB at start, peak {} MiB sampled, VmHWM {} MiB; fds \
         {fds_at_start} at start, peak {peak_fds}; past max_connections = {MAX_CONNECTIONS}: \
         {EXTRA} more connections, {admitted} admitted, {refused} refused with 503 SlowDown and \
         closed, {} otherwise; {still} of {CONNECTIONS} connections still served afterwards",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        rss_at_start / MIB,
        peak_rss_sampled / MIB,
        hwm / MIB,
        other.len(),
    );
    assert_eq!(
        tally.errors.load(Ordering::Relaxed),
        0,
        "errors: {:#?}",
        tally.first_errors.lock().unwrap()
    );
    assert!(total >= CONNECTIONS as u64, "too few requests: {total}");
    assert!(
        hwm < RSS_LIMIT,
        "peak RSS {} MiB, not under {} MiB",
        hwm / MIB,
        RSS_LIMIT / MIB
    );
    // Each client connection, one upstream connection per request in flight, and the upstream
    // pool's turnover: it opens a connection for a request while another one is on its way
    // back to the pool (rebucket sets no cap on upstream connections; one would queue
    // requests instead).
    // (2,150 at most in a 60 s run: 1,000 + 1,135 + 15.)
    let fd_bound = 2 * CONNECTIONS + CONNECTIONS / 4 + FD_SLACK;
    assert!(
        peak_fds <= fd_bound,
        "{peak_fds} descriptors open for {CONNECTIONS} connections, more than {fd_bound}"
    );
    assert!(
        other.is_empty(),
        "neither admitted nor refused cleanly: {other:#?}"
    );
    assert_eq!(
        (admitted, refused),
        (
            MAX_CONNECTIONS - CONNECTIONS,
            EXTRA - (MAX_CONNECTIONS - CONNECTIONS)
        ),
        "admitted and refused past the limit"
    );
    assert_eq!(still, CONNECTIONS);
}
