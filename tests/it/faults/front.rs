//! The front under hostile clients: half header blocks, idle keep-alive connections, stalled
//! uploads, too many connections, too many or too large headers.

use super::*;
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
