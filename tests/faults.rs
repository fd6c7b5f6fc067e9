//! Hostile clients and failing upstreams: every test starts a gateway with small bounds and
//! attacks it, from the front with raw sockets, or from behind with [`FaultProxy`], a TCP proxy
//! of the test's own between rebucket and a real (s3s-fs) upstream that injects the fault.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use common::*;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------------------------
// The fault proxy.

/// What the proxy does to the connections it accepts from now on.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Relays both ways.
    Pass,
    /// Relays the request, then resets the connection after this many bytes of the answer.
    ResetAfter(usize),
    /// Relays the request, and never answers.
    StallBeforeHeaders,
    /// Relays a request's head, then reads nothing more of it (nor answers).
    StallUpload,
    /// Relays the request and this many bytes of the answer, then nothing more (connection
    /// kept open).
    StallAfter(usize),
    /// Relays the answer `bytes` at a time, one piece every `every`.
    Trickle { bytes: usize, every: Duration },
    /// Resets every connection at once.
    Refuse,
    /// Answers every request itself with this status and an S3 error, never calling upstream.
    Storm(u16),
}

struct ProxyState {
    upstream: SocketAddr,
    fault: Mutex<Fault>,
    /// Bumped by [`FaultProxy::set`]: every open connection ends.
    generation: tokio::sync::watch::Sender<u64>,
    connections: AtomicUsize,
    /// Request lines seen (`PUT /bucket/key?x HTTP/1.1`), in order.
    requests: Mutex<Vec<String>>,
}

/// A TCP proxy between rebucket and an upstream, injecting a [`Fault`], counting connections
/// and requests.
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(ProxyState {
            upstream,
            fault: Mutex::new(Fault::Pass),
            generation: tokio::sync::watch::channel(0).0,
            connections: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let _ = socket.set_nodelay(true);
                tokio::spawn(handle(socket, st.clone()));
            }
        });
        Self {
            endpoint: format!("http://{addr}"),
            state,
            task,
        }
    }

    /// Injects `fault` from now on; connections open so far are closed.
    pub async fn set(&self, fault: Fault) {
        *self.state.fault.lock().unwrap() = fault;
        self.state.generation.send_modify(|g| *g += 1);
        // Let the client's pool see its connections closed.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Forgets the connections and requests seen so far.
    pub fn clear(&self) {
        self.state.connections.store(0, Ordering::SeqCst);
        self.state.requests.lock().unwrap().clear();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.state.generation.send_modify(|g| *g += 1);
    }
}

async fn handle(mut client: TcpStream, state: Arc<ProxyState>) {
    state.connections.fetch_add(1, Ordering::SeqCst);
    let fault = state.fault.lock().unwrap().clone();
    let mut generation = state.generation.subscribe();
    let reset = {
        let work = async {
            match fault {
                Fault::Refuse => true,
                Fault::Storm(status) => {
                    let _ = storm(&mut client, status, &state).await;
                    false
                }
                fault => relay(&mut client, fault, &state).await,
            }
        };
        tokio::select! {
            reset = work => reset,
            _ = generation.changed() => false,
        }
    };
    if reset {
        let _ = client.set_zero_linger();
    }
}

/// Relays one connection; whether it must end with a reset.
async fn relay(client: &mut TcpStream, fault: Fault, state: &ProxyState) -> bool {
    let Ok(mut upstream) = TcpStream::connect(state.upstream).await else {
        return true;
    };
    let _ = upstream.set_nodelay(true);
    let (cr, cw) = client.split();
    let (ur, uw) = upstream.split();
    let stall_upload = fault == Fault::StallUpload;
    tokio::select! {
        _ = forward_requests(cr, uw, state, stall_upload) => false,
        reset = forward_answers(ur, cw, fault) => reset,
    }
}

/// Reads one request head (through the blank line); `None` at the end of the stream.
async fn read_head<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let n = r.read_until(b'\n', &mut head).await?;
        if n == 0 {
            return Ok(None);
        }
        if head.ends_with(b"\r\n\r\n") || head == b"\r\n" {
            return Ok(Some(head));
        }
    }
}

/// The value of header `name` in a head.
fn header(head: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(head).lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// Copies (or, without `to`, skips) the body that follows `head`.
async fn copy_body<R, W>(
    r: &mut BufReader<R>,
    mut to: Option<&mut W>,
    head: &[u8],
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    async fn pass<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
        r: &mut BufReader<R>,
        to: &mut Option<&mut W>,
        n: u64,
    ) -> std::io::Result<()> {
        let mut take = r.take(n);
        match to {
            Some(w) => tokio::io::copy(&mut take, *w).await?,
            None => tokio::io::copy(&mut take, &mut tokio::io::sink()).await?,
        };
        Ok(())
    }
    async fn put<W: AsyncWrite + Unpin>(to: &mut Option<&mut W>, b: &[u8]) -> std::io::Result<()> {
        if let Some(w) = to {
            w.write_all(b).await?;
        }
        Ok(())
    }
    let chunked = header(head, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if !chunked {
        let len = header(head, "content-length").and_then(|v| v.parse().ok());
        return pass(r, &mut to, len.unwrap_or(0)).await;
    }
    loop {
        let mut line = Vec::new();
        r.read_until(b'\n', &mut line).await?;
        put(&mut to, &line).await?;
        let text = String::from_utf8_lossy(&line);
        let size = text.trim().split(';').next().unwrap_or("0");
        let size = u64::from_str_radix(size, 16).unwrap_or(0);
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                let mut t = Vec::new();
                if r.read_until(b'\n', &mut t).await? == 0 {
                    return Ok(());
                }
                put(&mut to, &t).await?;
                if t == b"\r\n" {
                    return Ok(());
                }
            }
        }
        pass(r, &mut to, size + 2).await?;
    }
}

/// Relays requests to the upstream, recording each request line; with `stall_upload`, only
/// the first head.
async fn forward_requests<R, W>(
    from: R,
    mut to: W,
    state: &ProxyState,
    stall_upload: bool,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut r = BufReader::new(from);
    while let Some(head) = read_head(&mut r).await? {
        let line = String::from_utf8_lossy(&head)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        state.requests.lock().unwrap().push(line);
        to.write_all(&head).await?;
        if stall_upload {
            std::future::pending::<()>().await;
        }
        copy_body(&mut r, Some(&mut to), &head).await?;
    }
    Ok(())
}

/// Relays answers, injecting `fault`; `true` when the connection must be reset.
async fn forward_answers<R, W>(mut from: R, mut to: W, fault: Fault) -> bool
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let limit = match fault {
        Fault::ResetAfter(n) | Fault::StallAfter(n) => n,
        Fault::StallBeforeHeaders | Fault::StallUpload => 0,
        _ => usize::MAX,
    };
    let mut sent = 0usize;
    let mut buf = vec![0u8; 16 << 10];
    loop {
        if sent >= limit {
            if matches!(fault, Fault::ResetAfter(_)) {
                return true;
            }
            // Stalled: the connection stays open, nothing more is said.
            std::future::pending::<()>().await;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let chunk = &buf[..n.min(limit - sent)];
        sent += chunk.len();
        let res = match &fault {
            Fault::Trickle { bytes, every } => {
                let mut res = Ok(());
                for piece in chunk.chunks(*bytes) {
                    res = to.write_all(piece).await;
                    if res.is_err() {
                        break;
                    }
                    tokio::time::sleep(*every).await;
                }
                res
            }
            _ => to.write_all(chunk).await,
        };
        if res.is_err() {
            return false;
        }
    }
}

/// Answers every request on `client` with `status` and an S3 error document.
async fn storm(client: &mut TcpStream, status: u16, state: &ProxyState) -> std::io::Result<()> {
    let (code, message) = match status {
        503 => ("SlowDown", "Please reduce your request rate."),
        _ => (
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let answer = format!(
        "HTTP/1.1 {status} Storm\r\ncontent-type: application/xml\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (cr, mut cw) = client.split();
    let mut r = BufReader::new(cr);
    while let Some(head) = read_head(&mut r).await? {
        let line = String::from_utf8_lossy(&head)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        state.requests.lock().unwrap().push(line);
        copy_body::<_, tokio::net::tcp::WriteHalf<'_>>(&mut r, None, &head).await?;
        cw.write_all(answer.as_bytes()).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A gateway with a config file.

/// A gateway started in-process with `toml` as its config file, in front of `endpoint`
/// (S3_ENDPOINT, signing with [`KEYS_A`]).
struct Gw {
    running: rebucket::server::Running,
    _data: tempfile::TempDir,
    _home: tempfile::TempDir,
}

impl Gw {
    async fn start(endpoint: &str, toml: &str) -> Self {
        let home = tempfile::tempdir().expect("tempdir");
        let data = tempfile::tempdir().expect("tempdir");
        let config = home.path().join("rebucket.toml");
        std::fs::write(&config, toml).expect("write config");
        let mut env = std::collections::HashMap::new();
        let home_s = home.path().display().to_string();
        for (k, v) in [
            ("HOME", home_s.clone()),
            ("AWS_CONFIG_FILE", format!("{home_s}/no-config")),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                format!("{home_s}/no-credentials"),
            ),
            ("S3_ENDPOINT", endpoint.to_owned()),
            ("AWS_ACCESS_KEY_ID", KEYS_A.0.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", KEYS_A.1.to_owned()),
            ("REBUCKET_ACCESS_KEY", FRONT_AK.to_owned()),
            ("REBUCKET_SECRET_KEY", FRONT_SK.to_owned()),
            ("REBUCKET_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ] {
            env.insert(k.to_owned(), v);
        }
        let args = rebucket::config::ServeArgs {
            listen: "127.0.0.1:0".parse().expect("addr"),
            admin_listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: data.path().to_owned(),
            config: Some(config),
            domain: Vec::new(),
        };
        let config = rebucket::config::ServeConfig::build(args, &env).expect("config");
        let running = rebucket::server::start(config, rebucket::profiles::ProfileEnv { vars: env })
            .await
            .expect("start");
        Self {
            running,
            _data: data,
            _home: home,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.running.s3_addr
    }

    fn admin_addr(&self) -> SocketAddr {
        self.running.admin_addr
    }

    fn client(&self) -> aws_sdk_s3::Client {
        s3_client(&format!("http://{}", self.addr()), FRONT_AK, FRONT_SK)
    }
}

// ---------------------------------------------------------------------------------------------
// Raw sockets.

/// Reads until the peer closes (or resets) the connection, for at most `limit`; the bytes
/// read and, when it closed, after how long.
async fn until_closed(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Duration>) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return (got, None),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, Some(start.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one answer (head and `Content-Length` body); its status and bytes.
async fn read_answer(s: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut r = BufReader::new(s);
    let head = tokio::time::timeout(Duration::from_secs(10), read_head(&mut r))
        .await
        .expect("answer in time")
        .expect("read answer")
        .expect("an answer");
    let status = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let len: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await.expect("answer body");
    (status, body)
}

/// The request target and `Host` of a presigned PutObject of `bucket/key`.
async fn presigned_put(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> (String, String) {
    let req = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).expect("cfg"))
        .await
        .expect("presign");
    let uri: http::Uri = req.uri().parse().expect("uri");
    let target = uri.path_and_query().expect("target").to_string();
    let host = uri.authority().expect("authority").to_string();
    (target, host)
}

// ---------------------------------------------------------------------------------------------
// The front: hostile clients.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_half_a_header_block_is_disconnected_within_the_header_timeout() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    let gw = Gw::start(&up.endpoint, "header_read_timeout_ms = 500\n").await;
    for (listener, addr) in [("S3", gw.addr()), ("admin", gw.admin_addr())] {
        // Half a header block, then silence.
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /bucket/key HTTP/1.1\r\nHost: 127.0.0.1\r\nx-amz-date: 2026")
            .await
            .expect("write");
        let (_, closed) = until_closed(&mut s, Duration::from_secs(5)).await;
        let after = closed.unwrap_or_else(|| {
            panic!("{listener} listener: half a header block still connected after 5 s")
        });
        assert!(
            after < Duration::from_secs(3),
            "{listener}: closed after {after:?}"
        );

        // Not a byte at all.
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let (_, closed) = until_closed(&mut s, Duration::from_secs(5)).await;
        assert!(
            closed.is_some_and(|d| d < Duration::from_secs(3)),
            "{listener} listener: a silent connection still open after {closed:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    let gw = Gw::start(
        &up.endpoint,
        "idle_timeout_ms = 500\nheader_read_timeout_ms = 10000\n",
    )
    .await;
    let mut s = TcpStream::connect(gw.addr()).await.expect("connect");
    // An unsigned ListBuckets: answered (403), the connection kept alive.
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let (status, _) = read_answer(&mut s).await;
    assert_eq!(status, 403);
    let (_, closed) = until_closed(&mut s, Duration::from_secs(5)).await;
    let after = closed.expect("an idle keep-alive connection still open after 5 s");
    // Closed by the idle timeout (0.5 s), not the header timeout (10 s).
    assert!(after < Duration::from_secs(3), "closed after {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_stalls_mid_body_is_cut_off_and_leaves_no_object() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket("stall").await;
    let gw = Gw::start(&up.endpoint, "body_idle_timeout_ms = 500\n").await;
    // Discovery first, so the upload is the only thing left to do.
    gw.client()
        .head_bucket()
        .bucket("stall")
        .send()
        .await
        .expect("head bucket");
    let (target, host) = presigned_put(&gw.client(), "stall", "slow.bin").await;
    let mut s = TcpStream::connect(gw.addr()).await.expect("connect");
    let head = format!("PUT {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100000\r\n\r\n");
    s.write_all(head.as_bytes()).await.expect("write head");
    s.write_all(&[b'x'; 1000]).await.expect("write some body");
    let started = Instant::now();
    let (answer, closed) = until_closed(&mut s, Duration::from_secs(6)).await;
    let after = closed.expect("a stalled upload still connected after 6 s");
    assert!(
        after < Duration::from_secs(4),
        "stalled upload cut off after {after:?}"
    );
    // Answered as S3 answers it.
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert_eq!(xml_code(answer.as_bytes()), "RequestTimeout", "{answer}");
    drop(s);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        up.get("stall", "slow.bin").await,
        None,
        "a partial upload left an object ({:?} after the stall)",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_connections_a_new_connection_is_refused_with_503_slow_down() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    let gw = Gw::start(&up.endpoint, "max_connections = 2\n").await;
    let held: Vec<TcpStream> = vec![
        TcpStream::connect(gw.addr()).await.expect("connect"),
        TcpStream::connect(gw.addr()).await.expect("connect"),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(gw.addr()).await.expect("connect");
    third
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let (status, body) = read_answer(&mut third).await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert_eq!(xml_code(&body), "SlowDown");
    let (_, closed) = until_closed(&mut third, Duration::from_secs(3)).await;
    assert!(closed.is_some(), "a refused connection stays open");

    // A place freed is a place to take.
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut next = TcpStream::connect(gw.addr()).await.expect("connect");
    next.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let (status, _) = read_answer(&mut next).await;
    assert_eq!(status, 403, "served again once connections closed");

    // The admin listener has its own limit, and says it in JSON.
    let _held: Vec<TcpStream> = vec![
        TcpStream::connect(gw.admin_addr()).await.expect("connect"),
        TcpStream::connect(gw.admin_addr()).await.expect("connect"),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(gw.admin_addr()).await.expect("connect");
    third
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let (status, body) = read_answer(&mut third).await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_or_too_large_headers_are_refused_with_431() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    let gw = Gw::start(&up.endpoint, "max_headers = 20\nmax_header_bytes = 4096\n").await;
    let many: String = (0..30).map(|i| format!("x-amz-meta-h{i}: v\r\n")).collect();
    let large = format!("x-amz-meta-big: {}\r\n", "v".repeat(6000));
    for (listener, addr) in [("S3", gw.addr()), ("admin", gw.admin_addr())] {
        for (what, extra) in [("30 header fields", &many), ("a 6 KB header", &large)] {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            let req = format!("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n");
            s.write_all(req.as_bytes()).await.expect("write");
            let (status, _) = read_answer(&mut s).await;
            assert_eq!(status, 431, "{listener} listener, {what}");
        }
        // Within the limits: served.
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nx-amz-meta-a: b\r\n\r\n")
            .await
            .expect("write");
        let (status, _) = read_answer(&mut s).await;
        assert_ne!(status, 431, "{listener} listener, small headers");
    }
}

// ---------------------------------------------------------------------------------------------
// Behind: failing upstreams.

/// An upstream with `bucket`, the fault proxy in front of it, and a gateway in front of the
/// proxy with `toml`; the bucket discovered, the proxy's counters cleared.
async fn behind_proxy(bucket: &str, toml: &str) -> (Upstream, FaultProxy, Gw) {
    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket(bucket).await;
    let proxy = FaultProxy::start(up.addr).await;
    let gw = Gw::start(&proxy.endpoint, toml).await;
    gw.client()
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("head bucket");
    // The first use of a bucket starts its discovery (a HeadBucket of the gateway's own) in
    // the background: let it reach the upstream before counting.
    let start = Instant::now();
    while proxy.requests().len() < 2 && start.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.clear();
    (up, proxy, gw)
}

/// The requests the proxy saw with `method`.
fn with_method(proxy: &FaultProxy, method: &str) -> Vec<String> {
    let prefix = format!("{method} ");
    proxy
        .requests()
        .into_iter()
        .filter(|r| r.starts_with(&prefix))
        .collect()
}

/// Runs a front call with a 10 s cap (the test fails rather than hang).
async fn capped<F: std::future::Future>(what: &str, f: F) -> (F::Output, Duration) {
    let start = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 10 s"));
    (out, start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upstream_answers_503_within_the_first_byte_timeout_and_recovers_at_once() {
    let _g = light().await;
    let (up, proxy, gw) = behind_proxy("slow", "upstream_first_byte_timeout_ms = 1000\n").await;
    up.put("slow", "k", b"hello").await;
    let c = gw.client();

    proxy.set(Fault::StallBeforeHeaders).await;
    let (res, took) = capped("GET from a stalled upstream", async {
        c.get_object().bucket("slow").key("k").send().await
    })
    .await;
    let err = res.expect_err("a stalled upstream cannot answer");
    let (status, code, _) = err_parts(&err);
    assert!(
        status == 503 || status == 504,
        "status {status} {code}: {err:?}"
    );
    assert_eq!(code, "ServiceUnavailable");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "answered after {took:?}"
    );
    assert_eq!(
        with_method(&proxy, "GET").len(),
        1,
        "a stalled call is not tried again: {:?}",
        proxy.requests()
    );

    // Back: the next request succeeds.
    proxy.set(Fault::Pass).await;
    let (res, _) = capped("GET once the upstream is back", async {
        c.get_object().bucket("slow").key("k").send().await
    })
    .await;
    let out = res.expect("GET once the upstream is back");
    assert_eq!(collect(out.body).await, b"hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_stalls_mid_download_fails_the_transfer_within_the_idle_timeout() {
    let _g = light().await;
    let (up, proxy, gw) = behind_proxy("mid", "upstream_idle_timeout_ms = 1000\n").await;
    let data = pattern(1 << 20, 7);
    up.put("mid", "big", &data).await;
    proxy.set(Fault::StallAfter(200_000)).await;
    let c = gw.client();
    let (res, took) = capped("GET stalling mid-body", async {
        match c.get_object().bucket("mid").key("big").send().await {
            Err(e) => Err(format!("{e:?}")),
            Ok(out) => out
                .body
                .collect()
                .await
                .map(|b| b.into_bytes().len())
                .map_err(|e| format!("{e:?}")),
        }
    })
    .await;
    assert!(
        res.is_err(),
        "a stalled download ended cleanly with {res:?} bytes"
    );
    assert!(took < Duration::from_secs(4), "failed after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_stops_reading_an_upload_fails_it_within_the_idle_timeout() {
    let _g = light().await;
    let (up, proxy, gw) = behind_proxy("sink", "upstream_idle_timeout_ms = 1000\n").await;
    proxy.set(Fault::StallUpload).await;
    // Larger than what the sockets on the way can buffer.
    let data = pattern(48 << 20, 10);
    let c = gw.client();
    let (res, took) = capped("PUT to an upstream that stopped reading", async {
        c.put_object()
            .bucket("sink")
            .key("big")
            .body(ByteStream::from(data))
            .send()
            .await
    })
    .await;
    let err = res.expect_err("an upload nobody reads cannot succeed");
    assert!(
        took < Duration::from_secs(6),
        "failed after {took:?}: {err:?}"
    );
    proxy.set(Fault::Pass).await;
    assert_eq!(up.get("sink", "big").await, None, "half an upload stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_resets_mid_download_gives_the_client_a_truncated_transfer() {
    let _g = light().await;
    let (up, proxy, gw) = behind_proxy("reset", "").await;
    let data = pattern(1 << 20, 8);
    up.put("reset", "big", &data).await;
    proxy.set(Fault::ResetAfter(300_000)).await;
    let c = gw.client();
    let (res, _) = capped("GET reset mid-body", async {
        match c.get_object().bucket("reset").key("big").send().await {
            Err(e) => Err(format!("{e:?}")),
            Ok(out) => out
                .body
                .collect()
                .await
                .map(|b| b.into_bytes().len())
                .map_err(|e| format!("{e:?}")),
        }
    })
    .await;
    assert!(
        res.is_err(),
        "a reset download ended cleanly with {res:?} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_upload_leaves_no_object_upstream() {
    let _g = light().await;
    let (up, proxy, gw) = behind_proxy("gone", "").await;
    let (target, host) = presigned_put(&gw.client(), "gone", "half.bin").await;
    let mut s = TcpStream::connect(gw.addr()).await.expect("connect");
    let head = format!("PUT {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1048576\r\n\r\n");
    s.write_all(head.as_bytes()).await.expect("write head");
    s.write_all(&pattern(300_000, 9)).await.expect("write body");
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(s);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        proxy.requests().iter().any(|r| r.starts_with("PUT ")),
        "the upload reached the upstream: {:?}",
        proxy.requests()
    );
    assert_eq!(
        up.get("gone", "half.bin").await,
        None,
        "half an upload stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_are_not_idempotent_are_sent_once_to_a_failing_upstream() {
    let _g = light().await;
    let (up, proxy, gw) = behind_proxy("once", "").await;
    up.put("once", "src", b"source object").await;
    let c = gw.client();
    // An upload with one part, to complete and to copy into.
    let upload = c
        .create_multipart_upload()
        .bucket("once")
        .key("mpu")
        .send()
        .await
        .expect("create upload");
    let upload_id = upload.upload_id().expect("upload id").to_owned();
    let part = c
        .upload_part()
        .bucket("once")
        .key("mpu")
        .upload_id(&upload_id)
        .part_number(1)
        .body(ByteStream::from_static(b"part one"))
        .send()
        .await
        .expect("upload part");

    proxy.set(Fault::Storm(500)).await;
    let mut sent = Vec::new();
    let mut count = |what: &str, method: &str, proxy: &FaultProxy| {
        sent.push((what.to_owned(), with_method(proxy, method)));
        proxy.clear();
    };
    proxy.clear();
    let _ = c
        .create_multipart_upload()
        .bucket("once")
        .key("other")
        .send()
        .await
        .expect_err("storm");
    count("CreateMultipartUpload", "POST", &proxy);
    let done = CompletedMultipartUpload::builder()
        .parts(
            CompletedPart::builder()
                .part_number(1)
                .e_tag(part.e_tag().unwrap_or_default())
                .build(),
        )
        .build();
    let _ = c
        .complete_multipart_upload()
        .bucket("once")
        .key("mpu")
        .upload_id(&upload_id)
        .multipart_upload(done)
        .send()
        .await
        .expect_err("storm");
    count("CompleteMultipartUpload", "POST", &proxy);
    let _ = c
        .copy_object()
        .bucket("once")
        .key("copy")
        .copy_source("once/src")
        .send()
        .await
        .expect_err("storm");
    count("CopyObject", "PUT", &proxy);
    let _ = c
        .upload_part_copy()
        .bucket("once")
        .key("mpu")
        .upload_id(&upload_id)
        .part_number(2)
        .copy_source("once/src")
        .send()
        .await
        .expect_err("storm");
    count("UploadPartCopy", "PUT", &proxy);
    // An idempotent call is still tried again.
    let _ = c
        .get_object()
        .bucket("once")
        .key("src")
        .send()
        .await
        .expect_err("storm");
    count("GetObject", "GET", &proxy);

    for (what, requests) in &sent {
        let want = if what == "GetObject" { 2 } else { 1 };
        assert_eq!(
            requests.len(),
            want,
            "{what} sent {} times upstream: {requests:?}",
            requests.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_local_upstream_is_refused_before_any_connection() {
    let _g = light().await;
    // The kernel would not connect to an unscoped link-local address anyway: no packet leaves.
    let gw = Gw::start("http://[fe80::1]:9000", "").await;
    let (res, took) = capped("GET from a link-local upstream", async {
        gw.client()
            .get_object()
            .bucket("meta")
            .key("k")
            .send()
            .await
    })
    .await;
    let err = res.expect_err("refused");
    let (status, code, message) = err_parts(&err);
    assert_eq!(
        (status, code.as_str()),
        (503, "ServiceUnavailable"),
        "{message}"
    );
    assert!(
        message.contains("link-local"),
        "the answer names the refusal: {message}"
    );
    assert!(took < Duration::from_secs(2), "refused after {took:?}");

    // Allowed explicitly: the guard steps aside (and the kernel refuses instead).
    let gw = Gw::start("http://[fe80::1]:9000", "allow_link_local = true\n").await;
    let (res, _) = capped("GET from an allowed link-local upstream", async {
        gw.client()
            .get_object()
            .bucket("meta")
            .key("k")
            .send()
            .await
    })
    .await;
    let err = res.expect_err("nothing listens there");
    let (_, _, message) = err_parts(&err);
    assert!(!message.contains("allow_link_local"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_proxy_trickles_refuses_and_counts() {
    let _g = light().await;
    let (up, proxy, gw) = behind_proxy("harness", "").await;
    up.put("harness", "k", b"trickled answer").await;
    let c = gw.client();
    proxy
        .set(Fault::Trickle {
            bytes: 64,
            every: Duration::from_millis(5),
        })
        .await;
    let out = c
        .get_object()
        .bucket("harness")
        .key("k")
        .send()
        .await
        .expect("a trickle is slow, not stalled");
    assert_eq!(collect(out.body).await, b"trickled answer");
    assert!(proxy.connections() >= 1);
    assert_eq!(
        with_method(&proxy, "GET").len(),
        1,
        "{:?}",
        proxy.requests()
    );

    proxy.set(Fault::Refuse).await;
    proxy.clear();
    let err = c
        .get_object()
        .bucket("harness")
        .key("k")
        .send()
        .await
        .expect_err("refused");
    assert_eq!(err_parts(&err).0, 503, "{err:?}");
    assert!(proxy.connections() >= 1);
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
}

#[test]
fn bound_settings_have_documented_defaults_and_bad_values_name_their_key() {
    let build = |toml: &str| {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("rebucket.toml");
        std::fs::write(&config, toml).expect("write");
        let args = rebucket::config::ServeArgs {
            listen: "127.0.0.1:0".parse().expect("addr"),
            admin_listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: dir.path().join("data"),
            config: Some(config),
            domain: Vec::new(),
        };
        let mut env = std::collections::HashMap::new();
        env.insert("REBUCKET_ADMIN_TOKEN".to_owned(), ADMIN_TOKEN.to_owned());
        env.insert("REBUCKET_ACCESS_KEY".to_owned(), FRONT_AK.to_owned());
        env.insert("REBUCKET_SECRET_KEY".to_owned(), FRONT_SK.to_owned());
        rebucket::config::ServeConfig::build(args, &env)
    };
    let c = build("").expect("defaults");
    let l = c.front_limits;
    assert!(l.header_read_timeout <= Duration::from_secs(30));
    assert_eq!(l.header_read_timeout, Duration::from_secs(20));
    assert_eq!(l.idle_timeout, Duration::from_secs(20));
    assert_eq!(l.body_idle_timeout, Duration::from_secs(30));
    assert_eq!(l.max_connections, 1024);
    assert_eq!((l.max_headers, l.max_header_bytes), (100, 16384));
    assert_eq!(c.upstream_first_byte_timeout, Duration::from_secs(60));
    assert_eq!(c.upstream_idle_timeout, Duration::from_secs(30));
    assert!(!c.allow_link_local);

    let c = build(
        "header_read_timeout_ms = 1500\nmax_connections = 10\nupstream_idle_timeout_ms = 2000\n\
         allow_link_local = true\n",
    )
    .expect("set");
    assert_eq!(
        c.front_limits.header_read_timeout,
        Duration::from_millis(1500)
    );
    assert_eq!(c.front_limits.max_connections, 10);
    assert_eq!(c.upstream_idle_timeout, Duration::from_secs(2));
    assert!(c.allow_link_local);

    for (toml, key) in [
        ("header_read_timeout_ms = 0\n", "header_read_timeout_ms"),
        ("max_connections = 0\n", "max_connections"),
        ("max_header_bytes = 10\n", "max_header_bytes"),
        (
            "upstream_first_byte_timeout_ms = 99999999999\n",
            "upstream_first_byte_timeout_ms",
        ),
    ] {
        let err = build(toml).expect_err(toml).to_string();
        assert!(err.contains(key), "{toml}: {err}");
    }
}
