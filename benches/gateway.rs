//! The benchmark's load client and its s3s-fs upstream, in one binary.
//!
//! `cargo bench --bench gateway` runs the whole benchmark: it hands over to `bench/run.py`
//! (which starts the upstreams and `rebucket serve` as separate processes, drives every workload
//! through this binary in interleaved rounds and prints the table). The subcommands below are
//! what the driver calls; each prints one JSON object on stdout.
//!
//! - `serve-fs --port P --dir D --ak AK --sk SK`: an s3s-fs upstream (TCP_NODELAY on).
//! - `prepare ENDPOINT`: creates the bucket, a 4 KiB object `small` and `BENCH_LIST_KEYS`
//!   (1,000) keys under `list/`.
//! - `load ENDPOINT --op get|head|put|list --conns N --requests N`: N connections, each its
//!   own HTTP/1.1 connection sending requests back to back, until `--requests` are done;
//!   prints req/s and latency percentiles.
//! - `put-large` / `get-large` ENDPOINT `--mib M`: one stream; `multipart ENDPOINT --mib M
//!   --parts P`: P parts uploaded in parallel.
//!
//! Requests are signed with SigV4 (`aws-sigv4`, `UNSIGNED-PAYLOAD`, path style) as the
//! Amazon S3 API Reference, "Authenticating Requests (AWS Signature Version 4)", describes.

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
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// Characters SigV4 leaves unencoded in a query value (RFC 3986 unreserved).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Command-line options: `--name value` pairs after the subcommand and its endpoint.
struct Opts(Vec<String>);

impl Opts {
    fn get(&self, name: &str) -> Option<&str> {
        let flag = format!("--{name}");
        self.0
            .iter()
            .position(|a| *a == flag)
            .and_then(|i| self.0.get(i + 1))
            .map(String::as_str)
    }
    fn str(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_owned()
    }
    fn num(&self, name: &str, default: u64) -> u64 {
        self.get(name)
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("--{name}: not a number: {v}"))
            })
            .unwrap_or(default)
    }
}

/// Where to send requests and with which keys.
#[derive(Clone)]
struct Target {
    /// `host:port`
    authority: String,
    identity: Identity,
    bucket: String,
}

impl Target {
    fn new(endpoint: &str, o: &Opts) -> Self {
        let authority = endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let creds = aws_credential_types::Credentials::new(
            o.str("ak", "bench-ak"),
            o.str("sk", "bench-sk"),
            None,
            None,
            "bench",
        );
        Target {
            authority,
            identity: creds.into(),
            bucket: o.str("bucket", "bench"),
        }
    }

    /// A signed request for `path_and_query` (already encoded) with `body` of `len` bytes.
    fn request(
        &self,
        method: &str,
        path_and_query: &str,
        len: Option<u64>,
        body: Body,
    ) -> http::Request<Body> {
        let mut b = http::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(http::header::HOST, &self.authority)
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
        if let Some(len) = len {
            b = b.header(http::header::CONTENT_LENGTH, len);
        }
        let mut req = b.body(body).expect("request");
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

    fn object(&self, key: &str) -> String {
        format!("/{}/{}", self.bucket, key)
    }
}

fn empty() -> Body {
    Full::new(Bytes::new()).map_err(|e| match e {}).boxed()
}

fn full(b: Bytes) -> Body {
    Full::new(b).map_err(|e| match e {}).boxed()
}

/// A body of `len` bytes made of one repeated 1 MiB chunk (no file, no copy).
fn pattern(len: u64) -> Body {
    let chunk = Bytes::from(
        (0..1usize << 20)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let mut left = len;
    let chunks = std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let n = left.min(chunk.len() as u64) as usize;
        left -= n as u64;
        Some(Ok::<_, BoxError>(Frame::data(chunk.slice(..n))))
    });
    BodyExt::boxed(StreamBody::new(futures::stream::iter(chunks)))
}

/// One HTTP/1.1 connection (TCP_NODELAY), reconnected on demand.
struct Conn {
    authority: String,
    sender: Option<hyper::client::conn::http1::SendRequest<Body>>,
}

impl Conn {
    fn new(authority: &str) -> Self {
        Conn {
            authority: authority.to_owned(),
            sender: None,
        }
    }

    /// Sends `req`, reads the whole answer; returns (status, headers, body bytes read).
    async fn send(
        &mut self,
        req: http::Request<Body>,
        keep_body: bool,
    ) -> Result<(http::StatusCode, http::HeaderMap, Bytes, u64), BoxError> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let tcp = tokio::net::TcpStream::connect(&self.authority).await?;
            tcp.set_nodelay(true)?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().expect("connected");
        sender.ready().await?;
        let res = match sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                self.sender = None;
                return Err(e.into());
            }
        };
        let (parts, mut body) = res.into_parts();
        let mut n = 0u64;
        let mut kept = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                n += data.len() as u64;
                if keep_body {
                    kept.extend_from_slice(&data);
                }
            }
        }
        Ok((parts.status, parts.headers, Bytes::from(kept), n))
    }
}

/// Sends `req` and fails unless the answer is a success.
async fn ok(conn: &mut Conn, req: http::Request<Body>, what: &str) -> (http::HeaderMap, Bytes) {
    let (status, headers, body, _) = conn.send(req, true).await.expect(what);
    if !status.is_success() {
        panic!("{what}: {status}: {}", String::from_utf8_lossy(&body));
    }
    (headers, body)
}

async fn prepare(t: &Target, o: &Opts) {
    let mut c = Conn::new(&t.authority);
    let path = format!("/{}", t.bucket);
    let (status, _, body, _) = c
        .send(t.request("PUT", &path, Some(0), empty()), true)
        .await
        .expect("create bucket");
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() && !text.contains("BucketAlreadyOwnedByYou") {
        panic!("create bucket: {status}: {text}");
    }
    let small = Bytes::from(vec![7u8; 4096]);
    ok(
        &mut c,
        t.request("PUT", &t.object("small"), Some(4096), full(small.clone())),
        "put small",
    )
    .await;
    let keys = o.num("list-keys", 1000);
    // The first key alone: a file-backed upstream (rclone `serve s3`) creates the `list/`
    // directory on it, and 8 first PUTs racing to create it sometimes get a 500.
    if keys > 0 {
        ok(
            &mut c,
            t.request(
                "PUT",
                &t.object("list/000000"),
                Some(16),
                full(small.slice(..16)),
            ),
            "put list key",
        )
        .await;
    }
    let next = Arc::new(AtomicU64::new(keys.min(1)));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (t, next, small) = (t.clone(), next.clone(), small.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::new(&t.authority);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= keys {
                    break;
                }
                let key = t.object(&format!("list/{i:06}"));
                ok(
                    &mut c,
                    t.request("PUT", &key, Some(16), full(small.slice(..16))),
                    "put list key",
                )
                .await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    println!("{{\"prepared\": true, \"list_keys\": {keys}}}");
}

/// `--requests` requests of one kind over `--conns` connections: each connection sends its next
/// request as soon as the last is answered (a closed loop), or, with `--rate R`, at fixed times
/// R requests per second apart across all connections (an open loop). A request whose
/// connection was still busy when it was due is timed from when it was due, not when it went
/// out, so it counts its wait behind the slow one (no coordinated omission).
async fn load(t: &Target, o: &Opts) {
    let op = o.str("op", "get");
    let conns = o.num("conns", 16);
    let total = o.num("requests", 10_000);
    let list_keys = o.num("list-keys", 1000);
    let rate = o.num("rate", 0);
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    // Request i is due at `started + i / rate` (open loop).
    let due_at =
        move |i: u64| (rate > 0).then(|| started + Duration::from_secs_f64(i as f64 / rate as f64));
    let mut tasks = Vec::new();
    for task in 0..conns {
        let (t, op, next, errors) = (t.clone(), op.clone(), next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::new(&t.authority);
            let mut lat = Vec::new();
            let body4k = Bytes::from(vec![9u8; 4096]);
            let put_key = t.object(&format!("put/{task}"));
            let get_key = t.object("small");
            let list = format!(
                "/{}?list-type=2&max-keys={list_keys}&prefix={}",
                t.bucket,
                utf8_percent_encode("list/", QUERY)
            );
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                // A request is timed from when it was due if its connection was still busy
                // then (its wait is the load's), else from when it goes out: tokio's timer wakes
                // up to a millisecond late, and that is the client's, not the server's.
                let mut due = due_at(i);
                if let Some(at) = due
                    && Instant::now() < at
                {
                    tokio::time::sleep_until(at.into()).await;
                    due = None;
                }
                let req = match op.as_str() {
                    "get" => t.request("GET", &get_key, None, empty()),
                    "head" => t.request("HEAD", &get_key, None, empty()),
                    "put" => t.request("PUT", &put_key, Some(4096), full(body4k.clone())),
                    "list" => t.request("GET", &list, None, empty()),
                    other => panic!("unknown --op {other}"),
                };
                let t0 = due.unwrap_or_else(Instant::now);
                match c.send(req, false).await {
                    Ok((status, _, _, n)) if status.is_success() => {
                        if op == "get" {
                            assert_eq!(n, 4096, "4 KiB GET read {n} bytes");
                        }
                        lat.push(t0.elapsed());
                    }
                    Ok((status, ..)) => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("{op}: {status}");
                        }
                    }
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("{op}: {e}");
                        }
                    }
                }
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for task in tasks {
        lat.extend(task.await.expect("task"));
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| -> f64 {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{{\"op\": \"{op}\", \"conns\": {conns}, \"rate\": {rate}, \"requests\": {}, \"errors\": {}, \"secs\": {secs:.3}, \"rps\": {:.1}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}}}",
        lat.len(),
        errors.load(Ordering::Relaxed),
        lat.len() as f64 / secs,
        pct(0.50),
        pct(0.99)
    );
}

/// One large object, one stream: `put-large` or `get-large`.
async fn large(t: &Target, o: &Opts, put: bool) {
    let mib = o.num("mib", 1024);
    let len = mib << 20;
    let key = t.object("large");
    let mut c = Conn::new(&t.authority);
    let started = Instant::now();
    if put {
        ok(
            &mut c,
            t.request("PUT", &key, Some(len), pattern(len)),
            "put large",
        )
        .await;
    } else {
        let (status, _, _, n) = c
            .send(t.request("GET", &key, None, empty()), false)
            .await
            .expect("get large");
        assert!(status.is_success(), "get large: {status}");
        assert_eq!(n, len, "get large: read {n} bytes of {len}");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"op\": \"{}\", \"mib\": {mib}, \"secs\": {secs:.3}, \"mibps\": {:.1}}}",
        if put { "put-large" } else { "get-large" },
        mib as f64 / secs
    );
}

/// The text between `<tag>` and `</tag>`.
fn xml_field(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_owned())
}

/// CreateMultipartUpload, `--parts` UploadPart in parallel, CompleteMultipartUpload.
async fn multipart(t: &Target, o: &Opts) {
    let mib = o.num("mib", 1024);
    let parts = o.num("parts", 8);
    let part_len = (mib << 20) / parts;
    let key = t.object("multipart");
    let mut c = Conn::new(&t.authority);
    let started = Instant::now();
    let (_, body) = ok(
        &mut c,
        t.request("POST", &format!("{key}?uploads"), Some(0), empty()),
        "create multipart upload",
    )
    .await;
    let upload_id = xml_field(&String::from_utf8_lossy(&body), "UploadId").expect("UploadId");
    let id = utf8_percent_encode(&upload_id, QUERY).to_string();
    let mut tasks = Vec::new();
    for n in 1..=parts {
        let (t, key, id) = (t.clone(), key.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::new(&t.authority);
            let path = format!("{key}?partNumber={n}&uploadId={id}");
            let (headers, _) = ok(
                &mut c,
                t.request("PUT", &path, Some(part_len), pattern(part_len)),
                "upload part",
            )
            .await;
            let etag = headers
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            (n, etag)
        }));
    }
    let mut xml = String::from("<CompleteMultipartUpload>");
    for task in tasks {
        let (n, etag) = task.await.expect("part");
        xml.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag></Part>",
            etag.replace('"', "&quot;")
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let (_, body) = ok(
        &mut c,
        t.request(
            "POST",
            &format!("{key}?uploadId={id}"),
            Some(xml.len() as u64),
            full(Bytes::from(xml)),
        ),
        "complete multipart upload",
    )
    .await;
    let text = String::from_utf8_lossy(&body);
    assert!(
        !text.contains("<Error>"),
        "complete multipart upload: {text}"
    );
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"op\": \"multipart\", \"mib\": {mib}, \"parts\": {parts}, \"secs\": {secs:.3}, \"mibps\": {:.1}}}",
        mib as f64 / secs
    );
}

async fn serve_fs(o: &Opts) {
    let port = o.num("port", 0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port as u16))
        .await
        .expect("bind");
    let keys = rebucket::config::User {
        access_key: o.str("ak", "bench-ak"),
        secret_key: o.str("sk", "bench-sk"),
    };
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let dir = std::path::PathBuf::from(o.str("dir", "bench-fs"));
    eprintln!(
        "s3s-fs serving {} on {}",
        dir.display(),
        listener.local_addr().expect("addr")
    );
    rebucket::server::serve_store(listener, &dir, &keys, stop_rx)
        .expect("store")
        .await;
}

/// No subcommand (`cargo bench` passes `--bench`): run the whole benchmark.
fn run_driver(args: &[String]) -> ! {
    let root = env!("CARGO_MANIFEST_DIR");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let me = std::env::current_exe().expect("current exe");
    let status = std::process::Command::new(python)
        .arg(format!("{root}/bench/run.py"))
        .args(args.iter().filter(|a| *a != "--bench"))
        .env("BENCH_CLIENT", me)
        .env(
            "REBUCKET_BIN",
            std::env::var("REBUCKET_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_rebucket").into()),
        )
        .status()
        .expect("run bench/run.py");
    std::process::exit(status.code().unwrap_or(1));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = args.first().cloned().unwrap_or_default();
    if !matches!(
        cmd.as_str(),
        "serve-fs" | "prepare" | "load" | "put-large" | "get-large" | "multipart"
    ) {
        run_driver(&args);
    }
    let threads = std::env::var("BENCH_CLIENT_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime");
    let endpoint = args.get(1).cloned().unwrap_or_default();
    let o = Opts(args);
    rt.block_on(async {
        let t = Target::new(&endpoint, &o);
        match cmd.as_str() {
            "serve-fs" => serve_fs(&o).await,
            "prepare" => prepare(&t, &o).await,
            "load" => load(&t, &o).await,
            "put-large" => large(&t, &o, true).await,
            "get-large" => large(&t, &o, false).await,
            "multipart" => multipart(&t, &o).await,
            _ => unreachable!(),
        }
    });
    // Let in-flight connection tasks end without waiting for idle keep-alives.
    rt.shutdown_timeout(Duration::from_millis(100));
}
