//! Unsigned callers cost the upstreams and the registry nothing, and bucket discovery is
//! bounded: counted by a small TCP proxy of this module between rebucket and an s3s-fs
//! upstream (every request line rebucket sends upstream is recorded), and by the registry
//! file, which must stay byte for byte the same.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::*;

/// What one connection sent upstream.
type Connection = Arc<Mutex<Vec<u8>>>;

/// A TCP proxy that records what rebucket sends upstream, optionally slowed down (also used by
/// `anonymous_buckets`).
pub(crate) struct CountingProxy {
    pub(crate) endpoint: String,
    /// What each connection sent, one buffer per connection.
    sent: Arc<Mutex<Vec<Connection>>>,
    /// Milliseconds each chunk towards the upstream waits before it is passed on.
    delay_ms: Arc<AtomicU64>,
}

impl CountingProxy {
    pub(crate) async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (rec, delay) = (sent.clone(), delay_ms.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let conn = Arc::new(Mutex::new(Vec::new()));
                rec.lock().unwrap().push(conn.clone());
                let (rec, delay) = (conn, delay.clone());
                tokio::spawn(async move {
                    let Ok(up) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut up_read, mut up_write) = up.into_split();
                    let (mut client_read, mut client_write) = client.split();
                    let to_upstream = async {
                        let mut buf = vec![0u8; 64 << 10];
                        loop {
                            let n = match client_read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            rec.lock().unwrap().extend_from_slice(&buf[..n]);
                            let ms = delay.load(Ordering::SeqCst);
                            if ms > 0 {
                                tokio::time::sleep(Duration::from_millis(ms)).await;
                            }
                            if up_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = up_write.shutdown().await;
                    };
                    let to_client = tokio::io::copy(&mut up_read, &mut client_write);
                    let _ = tokio::join!(to_upstream, to_client);
                });
            }
        });
        Self {
            endpoint,
            sent,
            delay_ms,
        }
    }

    /// The request lines rebucket sent upstream (`HEAD /bucket HTTP/1.1`, ...). A request
    /// line may follow the previous request's body on the same line (the tests' bodies hold no
    /// request line).
    pub(crate) fn requests(&self) -> Vec<String> {
        let mut out = Vec::new();
        for conn in self.sent.lock().unwrap().iter() {
            let text = String::from_utf8_lossy(&conn.lock().unwrap()).into_owned();
            for line in text.split("\r\n") {
                let start = [
                    "GET /",
                    "HEAD /",
                    "PUT /",
                    "POST /",
                    "DELETE /",
                    "OPTIONS /",
                ]
                .iter()
                .filter_map(|m| line.find(m))
                .min();
                if let Some(start) = start
                    && line.ends_with(" HTTP/1.1")
                {
                    out.push(line[start..].to_owned());
                }
            }
        }
        out.sort();
        out
    }

    /// Everything rebucket sent upstream, one string per connection (bodies as lossy text).
    pub(crate) fn sent(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|c| String::from_utf8_lossy(&c.lock().unwrap()).into_owned())
            .collect()
    }

    /// The HeadBucket requests (bucket look-ups) for `bucket`.
    fn head_buckets(&self, bucket: &str) -> usize {
        let lines = [
            format!("HEAD /{bucket} HTTP/1.1"),
            format!("HEAD /{bucket}/ HTTP/1.1"),
        ];
        self.requests().iter().filter(|l| lines.contains(l)).count()
    }
}

/// An s3s-fs upstream with `buckets`, the proxy in front of it, and a gateway whose default
/// upstream is the proxy.
async fn setup(
    buckets: &[&str],
    configure: Option<fn(&mut rebucket::config::ServeConfig)>,
) -> (Upstream, CountingProxy, TestGateway) {
    let up = Upstream::start(&[KEYS_A]).await;
    for b in buckets {
        up.create_bucket(b).await;
    }
    let proxy = CountingProxy::start(up.addr).await;
    let gw = TestGateway::start(GwOpts {
        s3_endpoint: Some(proxy.endpoint.clone()),
        aws_keys: Some(up.keys[0].clone()),
        configure,
        ..GwOpts::default()
    })
    .await;
    (up, proxy, gw)
}

pub(crate) fn registry_file(gw: &TestGateway) -> Vec<u8> {
    std::fs::read(gw.data.path().join("registry.json")).unwrap_or_default()
}

/// Waits until the registry file mentions `bucket` (discovery runs in the background).
async fn wait_registered(gw: &TestGateway, bucket: &str) {
    let needle = format!("\"{bucket}\"");
    for _ in 0..100 {
        if String::from_utf8_lossy(&registry_file(gw)).contains(&needle) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{bucket} was never registered");
}

/// A browser's POST form upload without a signature.
pub(crate) fn unsigned_form(file: &[u8]) -> (String, Vec<u8>) {
    form_with(&[("key", "form.txt")], file)
}

/// A POST form upload with these fields before its file.
fn form_with(fields: &[(&str, &str)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----rebucketformboundary";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    ));
    let mut body = body.into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub(crate) fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn unsigned_requests_reach_no_upstream_and_write_no_registry() {
    let _g = light().await;
    let (_up, proxy, gw) = setup(&["secretbucket", "known"], None).await;
    // "known" is registered by a signed request; "secretbucket" never is.
    gw.client()
        .head_bucket()
        .bucket("known")
        .send()
        .await
        .expect("signed HeadBucket");
    wait_registered(&gw, "known").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = proxy.requests();
    let registry = registry_file(&gw);

    let origin = ("origin", "http://evil.example");
    let base = gw.endpoint();
    for bucket in ["secretbucket", "known", "neverseen"] {
        let url = format!("{base}/{bucket}/x");
        for headers in [h(&[]), h(&[origin])] {
            let (status, ..) = http_call("GET", &url, &headers, Vec::new()).await;
            assert_eq!(status, 403, "GET {url} {headers:?}");
            let (status, ..) = http_call("PUT", &url, &headers, b"data".to_vec()).await;
            assert_eq!(status, 403, "PUT {url} {headers:?}");
            let (content_type, form) = unsigned_form(b"hello");
            let mut form_headers = headers.clone();
            form_headers.push(("content-type".into(), content_type));
            let (status, ..) =
                http_call("POST", &format!("{base}/{bucket}"), &form_headers, form).await;
            assert_eq!(status, 403, "POST form to {bucket} {headers:?}");
        }
        if bucket != "known" {
            let preflight = h(&[origin, ("access-control-request-method", "GET")]);
            let (status, ..) = http_call("OPTIONS", &url, &preflight, Vec::new()).await;
            assert_eq!(status, 403, "preflight {url}");
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        proxy.requests(),
        before,
        "upstream requests of unsigned callers"
    );
    assert_eq!(
        registry_file(&gw),
        registry,
        "registry written for unsigned callers"
    );

    // Preflights of a registered bucket read its rules at most once per cache period.
    for _ in 0..10 {
        let preflight = h(&[origin, ("access-control-request-method", "GET")]);
        let url = format!("{base}/known/x");
        let (status, ..) = http_call("OPTIONS", &url, &preflight, Vec::new()).await;
        // s3s-fs keeps no CORS rules: answered as S3 does for a bucket without any.
        assert_eq!(
            status, 403,
            "preflight of a bucket without CORS rules: {status}"
        );
    }
    let after = proxy.requests();
    assert!(
        after.len() <= before.len() + 1,
        "{:?}",
        &after[before.len()..]
    );
    assert_eq!(registry_file(&gw), registry);
}

/// Sends a form's fields and the start of its file part, declaring a 60 MiB file that never
/// follows, and returns the answer that arrives meanwhile.
async fn answer_before_the_file(gw: &TestGateway, bucket: &str, form: (String, Vec<u8>)) -> String {
    let (content_type, body) = form;
    let head_len = body
        .windows(4)
        .rposition(|w| w == b"\r\n\r\n")
        .expect("file part headers")
        + 4;
    let declared = head_len + (60 << 20);
    let mut conn = TcpStream::connect(gw.s3_addr()).await.expect("connect");
    let request = format!(
        "POST /{bucket} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {declared}\r\n\r\n",
        gw.s3_addr()
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    conn.write_all(&body[..head_len]).await.unwrap();
    conn.write_all(&[b'x'; 4096]).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut answer))
        .await
        .expect("no answer while the file is still to come: s3s waits for the whole file")
        .expect("read");
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

#[tokio::test]
async fn an_unsigned_form_is_refused_before_its_file_is_sent() {
    let _g = light().await;
    let (_up, proxy, gw) = setup(&["secretbucket"], None).await;
    let answer = answer_before_the_file(&gw, "secretbucket", unsigned_form(&[])).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("<Code>AccessDenied</Code>"), "{answer}");
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
}

/// A form that names its credentials but carries no signature is malformed: S3 answers `400
/// InvalidArgument` naming the missing field, and so does rebucket, before the file is read.
#[tokio::test]
async fn a_form_naming_credentials_without_a_signature_is_a_400_before_its_file_is_sent() {
    let _g = light().await;
    let (_up, proxy, gw) = setup(&["secretbucket"], None).await;
    let policy = aws_smithy_types::base64::encode(
        r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[{"bucket":"secretbucket"}]}"#,
    );
    for (fields, missing) in [
        (
            vec![
                ("key", "f.txt"),
                ("AWSAccessKeyId", KEYS_A.0),
                ("policy", policy.as_str()),
            ],
            "&apos;Signature&apos;",
        ),
        (
            vec![
                ("key", "f.txt"),
                ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
                ("x-amz-credential", "AK/20300101/us-east-1/s3/aws4_request"),
                ("x-amz-date", "20300101T000000Z"),
                ("policy", policy.as_str()),
            ],
            "&apos;X-Amz-Signature&apos;",
        ),
    ] {
        let answer = answer_before_the_file(&gw, "secretbucket", form_with(&fields, &[])).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("<Code>InvalidArgument</Code>"), "{answer}");
        assert!(answer.contains(missing), "{answer}");
    }
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
}

#[tokio::test]
async fn anonymous_callers_get_no_internal_details() {
    let _g = light().await;
    let closed = closed_endpoint().await;
    let gw = TestGateway::start(GwOpts {
        s3_endpoint: Some(closed.clone()),
        aws_keys: Some((KEYS_A.0.into(), KEYS_A.1.into())),
        configure: Some(|c| c.allow_anonymous = true),
        ..GwOpts::default()
    })
    .await;
    let url = format!("{}/somebucket/x", gw.endpoint());
    let (status, _, body) = http_call("GET", &url, &[], Vec::new()).await;
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 503, "{text}");
    assert_eq!(xml_code(&body), "ServiceUnavailable", "{text}");
    let host = closed.trim_start_matches("http://");
    for secret in [host, "profile", "endpoint", "refused", "127.0.0.1"] {
        assert!(!text.contains(secret), "{secret:?} in {text}");
    }
    // Signed callers keep the detailed message.
    let err = gw
        .client()
        .get_object()
        .bucket("somebucket")
        .key("x")
        .send()
        .await
        .expect_err("the upstream is closed");
    let (status, _, message) = err_parts(&err);
    assert_eq!(status, 503);
    assert!(message.contains(host), "{message}");
}

#[tokio::test]
async fn concurrent_discovery_of_one_bucket_is_one_head_bucket() {
    let _g = light().await;
    let (_up, proxy, gw) = setup(&["shared"], None).await;
    proxy.delay_ms.store(300, Ordering::SeqCst);
    let client = gw.client();
    let calls = (0..20).map(|i| {
        let client = client.clone();
        async move {
            client
                .put_object()
                .bucket("shared")
                .key(format!("k{i}"))
                .body(b"x".to_vec().into())
                .send()
                .await
                .expect("put")
        }
    });
    futures::future::join_all(calls).await;
    proxy.delay_ms.store(0, Ordering::SeqCst);
    wait_registered(&gw, "shared").await;
    assert_eq!(proxy.head_buckets("shared"), 1, "{:?}", proxy.requests());
}

#[tokio::test]
async fn a_failed_look_up_is_not_repeated_within_the_negative_cache_time() {
    let _g = light().await;
    let (_up, proxy, gw) = setup(&[], None).await;
    let get = || async {
        let err = gw
            .client()
            .get_object()
            .bucket("nosuchbucket")
            .key("x")
            .send()
            .await
            .expect_err("no such bucket");
        assert_eq!(err_parts(&err).0, 404);
    };
    get().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(proxy.head_buckets("nosuchbucket"), 1);
    // Longer than the old five-second retry pause, well within the negative-cache time.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(rebucket::gateway::NEGATIVE_TTL > Duration::from_secs(7));
    get().await;
    get().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        proxy.head_buckets("nosuchbucket"),
        1,
        "{:?}",
        proxy.requests()
    );
}

#[tokio::test]
async fn look_ups_are_bounded_per_second() {
    let _g = light().await;
    let (_up, proxy, gw) = setup(&[], Some(|c| c.discovery_per_second = 3)).await;
    let client = gw.client();
    let calls = (0..20).map(|i| {
        let client = client.clone();
        async move {
            let _ = client
                .get_object()
                .bucket(format!("guess{i:02}"))
                .key("x")
                .send()
                .await;
        }
    });
    let started = std::time::Instant::now();
    futures::future::join_all(calls).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let heads = proxy
        .requests()
        .iter()
        .filter(|l| l.starts_with("HEAD /guess"))
        .count();
    let seconds = started.elapsed().as_secs() + 1;
    assert!(
        heads as u64 <= 3 * seconds,
        "{heads} look-ups in {seconds} s: {:?}",
        proxy.requests()
    );
}

#[tokio::test]
async fn discovery_does_not_resurrect_a_removed_registration() {
    let _g = light().await;
    let (_up, proxy, mut gw) = setup(&["real"], None).await;
    // A registration without a region yet: the first request looks the bucket up.
    std::fs::write(
        gw.data.path().join("registry.json"),
        r#"{"version": 1, "buckets": {"alias": {"backend_bck": "real"}}}"#,
    )
    .unwrap();
    gw.restart().await;
    proxy.delay_ms.store(1000, Ordering::SeqCst);
    let client = gw.client();
    let get = tokio::spawn(async move {
        let _ = client.get_object().bucket("alias").key("x").send().await;
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ans = gw.admin("DELETE", "/v1/buckets/alias", None).await;
    assert_eq!(ans.status, 200, "{}", ans.text);
    let _ = get.await;
    proxy.delay_ms.store(0, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(proxy.head_buckets("real") >= 1, "{:?}", proxy.requests());
    let file = String::from_utf8_lossy(&registry_file(&gw)).into_owned();
    assert!(!file.contains("alias"), "resurrected: {file}");
}

#[tokio::test]
async fn post_forms_share_a_bounded_memory_budget() {
    let _g = light().await;
    let (_up, _proxy, gw) =
        setup(&["forms"], Some(|c| c.post_object_memory_bytes = 100 << 10)).await;
    let (content_type, _) = unsigned_form(&[]);
    // A form whose headers declare 80 KiB and whose body has not come yet.
    let open_form = || async {
        let mut conn = TcpStream::connect(gw.s3_addr()).await.expect("connect");
        let head = format!(
            "POST /forms HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\n\r\n",
            gw.s3_addr(),
            80 << 10
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        conn
    };
    let answer = |mut conn: TcpStream, wait: Duration| async move {
        let mut buf = vec![0u8; 4096];
        match tokio::time::timeout(wait, conn.read(&mut buf)).await {
            Ok(Ok(n)) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            _ => None,
        }
    };
    let first = open_form().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = answer(open_form().await, Duration::from_secs(5))
        .await
        .expect("a form past the budget is answered at once");
    assert!(second.starts_with("HTTP/1.1 503"), "{second}");
    assert!(second.contains("<Code>SlowDown</Code>"), "{second}");
    // The first form's reservation ends with its connection.
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let third = answer(open_form().await, Duration::from_millis(500)).await;
    assert_eq!(third, None, "a form within the budget waits for its body");
}
