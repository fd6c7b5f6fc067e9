//! Failing upstreams behind the fault proxy: stalls before and during answers and uploads,
//! resets, storms, calls that must not be retried, link-local endpoints; and the bound
//! settings' defaults.

use super::*;
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

/// `endpoint_allowlist` holds for the endpoint the gateway started with (`S3_ENDPOINT`), not
/// only for bucket props: a request to a host outside it is refused before any connection, and
/// one inside it goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_allowlist_holds_for_the_default_endpoint_too() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket("listed").await;
    up.put("listed", "k", b"allowed bytes").await;
    let proxy = FaultProxy::start(up.addr).await;

    let gw = Gw::start(
        &proxy.endpoint,
        "endpoint_allowlist = [\"s3.example.com\"]\n",
    )
    .await;
    let (res, took) = capped("GET outside the allowlist", async {
        gw.client()
            .get_object()
            .bucket("listed")
            .key("k")
            .send()
            .await
    })
    .await;
    let err = res.expect_err("refused");
    let (status, _, message) = err_parts(&err);
    assert_eq!(status, 503, "{message}");
    assert!(message.contains("endpoint allowlist"), "{message}");
    assert!(took < Duration::from_secs(2), "refused after {took:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(proxy.connections(), 0, "{:?}", proxy.requests());

    let port = proxy.endpoint.rsplit(':').next().expect("port");
    let gw = Gw::start(
        &proxy.endpoint,
        &format!("endpoint_allowlist = [\"127.0.0.1:{port}\"]\n"),
    )
    .await;
    let out = gw
        .client()
        .get_object()
        .bucket("listed")
        .key("k")
        .send()
        .await
        .expect("allowed");
    assert_eq!(collect(out.body).await, b"allowed bytes");
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
            log_format: Default::default(),
            metrics_listen: None,
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
