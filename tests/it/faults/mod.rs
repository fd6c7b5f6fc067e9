//! Hostile clients and failing upstreams: every test starts a gateway with small bounds and
//! attacks it, from the front with raw sockets, or from behind with [`FaultProxy`], a TCP proxy
//! of the test's own between rebucket and a real (s3s-fs) upstream that injects the fault.

mod front;
mod upstream;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
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
    /// Relays each request after a pause of up to twice this (a slow upstream; the pauses vary
    /// from request to request, so concurrent requests reach the upstream in shuffled order).
    Delay(Duration),
}

struct ProxyState {
    upstream: SocketAddr,
    fault: Mutex<Fault>,
    /// Bumped by [`FaultProxy::set`]: every open connection ends.
    generation: tokio::sync::watch::Sender<u64>,
    connections: AtomicUsize,
    /// Request lines seen (`PUT /bucket/key?x HTTP/1.1`), in order.
    requests: Mutex<Vec<String>>,
    /// While set, answers to requests whose request line starts with it are held (see
    /// [`FaultProxy::hold`]).
    hold: tokio::sync::watch::Sender<Option<String>>,
    /// Answers held so far.
    held: AtomicUsize,
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
            hold: tokio::sync::watch::channel(None).0,
            held: AtomicUsize::new(0),
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

    /// Holds the answers to requests whose request line starts with `prefix` (`HEAD /bucket `):
    /// the upstream has answered, the answer waits in the proxy until [`Self::release`].
    pub fn hold(&self, prefix: &str) {
        self.state.hold.send_replace(Some(prefix.to_owned()));
    }

    /// Lets the held answers go, and every later one.
    pub fn release(&self) {
        self.state.hold.send_replace(None);
    }

    /// How many answers were held so far.
    pub fn held(&self) -> usize {
        self.state.held.load(Ordering::SeqCst)
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
    // Set while the answer to the request just relayed is to be held.
    let hold_next = AtomicBool::new(false);
    tokio::select! {
        _ = forward_requests(cr, uw, state, &fault, &hold_next) => false,
        reset = forward_answers(ur, cw, fault.clone(), state, &hold_next) => reset,
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

/// Relays requests to the upstream, recording each request line; with [`Fault::StallUpload`],
/// only the first head; with [`Fault::Delay`], each after a pause. Sets `hold_next` before
/// relaying a request whose answer is to be held (one connection carries one exchange at a
/// time, so the next answer on it is that request's).
async fn forward_requests<R, W>(
    from: R,
    mut to: W,
    state: &ProxyState,
    fault: &Fault,
    hold_next: &AtomicBool,
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
        if let Fault::Delay(mean) = fault {
            tokio::time::sleep(mean.mul_f64(2.0 * rand::random::<f64>())).await;
        }
        if state
            .hold
            .borrow()
            .as_deref()
            .is_some_and(|p| line.starts_with(p))
        {
            hold_next.store(true, Ordering::SeqCst);
            state.held.fetch_add(1, Ordering::SeqCst);
        }
        state.requests.lock().unwrap().push(line);
        to.write_all(&head).await?;
        if *fault == Fault::StallUpload {
            std::future::pending::<()>().await;
        }
        copy_body(&mut r, Some(&mut to), &head).await?;
    }
    Ok(())
}

/// Relays answers, injecting `fault` and holding an answer while `hold_next` says so (until
/// [`FaultProxy::release`]); `true` when the connection must be reset.
async fn forward_answers<R, W>(
    mut from: R,
    mut to: W,
    fault: Fault,
    state: &ProxyState,
    hold_next: &AtomicBool,
) -> bool
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
        if hold_next.swap(false, Ordering::SeqCst) {
            let mut hold = state.hold.subscribe();
            let _ = hold.wait_for(Option::is_none).await;
        }
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
            log_format: Default::default(),
            metrics_listen: None,
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
