//! The `anonymous` bucket property: `read` serves unsigned reads of that bucket with its
//! credentials and refuses everything else there, `forward` sends unsigned requests upstream
//! unsigned so that the upstream decides, and neither opens another bucket. What reaches the
//! upstreams is recorded by `anonymous::CountingProxy` (the bytes rebucket sends), the
//! upstreams are s3s-fs servers that check signatures, and some let unsigned requests in as a
//! public-read bucket policy would.

use std::time::Duration;

use crate::anonymous::{CountingProxy, h, registry_file, unsigned_form};
use crate::common::*;

/// Every request rebucket sent through `proxy`: its request line and its header block,
/// lowercased.
fn upstream_requests(proxy: &CountingProxy) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for text in proxy.sent() {
        let mut at = 0;
        while at < text.len() {
            let rest = &text[at..];
            let start = ["GET /", "HEAD /", "PUT /", "POST /", "DELETE /"]
                .iter()
                .filter_map(|m| rest.find(m))
                .min();
            let Some(start) = start else { break };
            let head = &rest[start..];
            let line_end = head.find("\r\n").unwrap_or(head.len());
            let line = &head[..line_end];
            if !line.ends_with(" HTTP/1.1") {
                at += start + 1;
                continue;
            }
            let end = head.find("\r\n\r\n").unwrap_or(head.len());
            out.push((line.to_owned(), head[..end].to_ascii_lowercase()));
            at += start + end.max(1);
        }
    }
    out
}

/// The header blocks of the requests whose request line starts with `prefix`.
fn sent_as(proxy: &CountingProxy, prefix: &str) -> Vec<String> {
    upstream_requests(proxy)
        .into_iter()
        .filter(|(line, _)| line.starts_with(prefix))
        .map(|(_, head)| head)
        .collect()
}

/// Whether a header block carries a signature or a credential of any kind.
fn signed(head: &str) -> bool {
    [
        "authorization:",
        "x-amz-signature",
        "x-amz-security-token",
        "x-amz-credential",
    ]
    .iter()
    .any(|s| head.contains(s))
        || head.contains(&KEYS_A.0.to_ascii_lowercase())
}

/// Waits until the upstream behind `proxy` has been quiet for a moment (background look-ups
/// after a props change) and returns what it got so far.
async fn settled(proxy: &CountingProxy) -> Vec<String> {
    let mut last = proxy.requests();
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = proxy.requests();
        if now == last {
            return now;
        }
        last = now;
    }
}

fn no_details(body: &[u8], secrets: &[&str]) {
    let text = String::from_utf8_lossy(body);
    for secret in secrets {
        assert!(!text.contains(secret), "{secret:?} in {text}");
    }
}

#[tokio::test]
async fn anonymous_read_serves_reads_of_that_bucket_only_and_refuses_the_rest_upstream_free() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    for b in ["dataset", "private"] {
        up.create_bucket(b).await;
    }
    up.put("dataset", "a.txt", b"public bytes").await;
    up.put("private", "s.txt", b"secret bytes").await;
    let proxy = CountingProxy::start(up.addr).await;
    let gw = TestGateway::start(GwOpts {
        s3_endpoint: Some(proxy.endpoint.clone()),
        aws_keys: Some((KEYS_A.0.into(), KEYS_A.1.into())),
        ..GwOpts::default()
    })
    .await;
    gw.set_props("dataset", serde_json::json!({"anonymous": "read"}))
        .await;
    gw.set_props(
        "private",
        serde_json::json!({"extra.aws.cloud_region": "us-east-1"}),
    )
    .await;
    let base = gw.endpoint();

    // Reads of the public dataset, served with the bucket's credentials.
    let (status, _, body) = http_call("GET", &format!("{base}/dataset/a.txt"), &[], vec![]).await;
    assert_eq!((status, &body[..]), (200, &b"public bytes"[..]));
    let (status, ..) = http_call("HEAD", &format!("{base}/dataset/a.txt"), &[], vec![]).await;
    assert_eq!(status, 200);
    let (status, _, body) =
        http_call("GET", &format!("{base}/dataset?list-type=2"), &[], vec![]).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(xml_element(&body, "Key"), "a.txt");
    // A Range S3 ignores takes the front's route; it is a read all the same.
    let ranged = h(&[("range", "bytes=20-10")]);
    let (status, _, body) =
        http_call("GET", &format!("{base}/dataset/a.txt"), &ranged, vec![]).await;
    assert_eq!((status, &body[..]), (200, &b"public bytes"[..]));
    let gets = sent_as(&proxy, "GET /dataset/a.txt");
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(gets.iter().all(|head| signed(head)), "{gets:?}");

    let before = settled(&proxy).await;
    let registry = registry_file(&gw);
    let refused = [
        ("PUT", "/dataset/b.txt", h(&[])),
        ("DELETE", "/dataset/a.txt", h(&[])),
        (
            "PUT",
            "/dataset/c.txt",
            h(&[("x-amz-copy-source", "/dataset/a.txt")]),
        ),
        ("DELETE", "/dataset?tagging", h(&[])),
        ("DELETE", "/dataset", h(&[])),
        ("GET", "/private/s.txt", h(&[])),
        ("HEAD", "/private/s.txt", h(&[])),
        ("GET", "/private?list-type=2", h(&[])),
        ("GET", "/private/s.txt", h(&[("range", "bytes=20-10")])),
        (
            "PUT",
            "/private/c.txt",
            h(&[("x-amz-copy-source", "/dataset/a.txt")]),
        ),
        ("GET", "/", h(&[])),
    ];
    for (method, path, headers) in refused {
        let body = if method == "PUT" && headers.is_empty() {
            b"x".to_vec()
        } else {
            vec![]
        };
        let (status, _, body) = http_call(method, &format!("{base}{path}"), &headers, body).await;
        assert_eq!(
            status,
            403,
            "{method} {path}: {}",
            String::from_utf8_lossy(&body)
        );
        if method != "HEAD" {
            assert_eq!(xml_code(&body), "AccessDenied", "{method} {path}");
            no_details(&body, &["127.0.0.1", "profile", "endpoint", KEYS_A.0]);
        }
    }
    // An unsigned form to the read-only bucket is refused before its file is read.
    let (content_type, form) = unsigned_form(b"hello");
    let (status, _, body) = http_call(
        "POST",
        &format!("{base}/dataset"),
        &h(&[("content-type", &content_type)]),
        form,
    )
    .await;
    assert_eq!((status, xml_code(&body).as_str()), (403, "AccessDenied"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        proxy.requests(),
        before,
        "upstream requests of refused callers"
    );
    assert_eq!(
        registry_file(&gw),
        registry,
        "registry written for refused callers"
    );
    assert_eq!(
        up.get("dataset", "a.txt").await.as_deref(),
        Some(&b"public bytes"[..])
    );
    assert_eq!(up.get("dataset", "b.txt").await, None);

    // Signed callers are not limited by the property.
    gw.client()
        .put_object()
        .bucket("dataset")
        .key("b.txt")
        .body(b"signed".to_vec().into())
        .send()
        .await
        .expect("signed PUT");

    // A change of the property holds from the next request on.
    gw.set_props("dataset", serde_json::json!({"anonymous": "off"}))
        .await;
    let (status, ..) = http_call("GET", &format!("{base}/dataset/a.txt"), &[], vec![]).await;
    assert_eq!(status, 403);
    gw.set_props("private", serde_json::json!({"anonymous": "read"}))
        .await;
    let (status, _, body) = http_call("GET", &format!("{base}/private/s.txt"), &[], vec![]).await;
    assert_eq!((status, &body[..]), (200, &b"secret bytes"[..]));
}

#[tokio::test]
async fn anonymous_forward_sends_unsigned_requests_unsigned_and_relays_the_upstreams_answer() {
    let _g = light().await;
    // A public-read upstream (unsigned reads allowed) and one that allows nothing unsigned.
    let public = Upstream::start_open(&[KEYS_A], OpenTo::Reads).await;
    public.create_bucket("open").await;
    public.put("open", "x.txt", b"open bytes").await;
    let shut = Upstream::start(&[KEYS_A]).await;
    shut.create_bucket("shut").await;
    shut.put("shut", "x.txt", b"shut bytes").await;
    let (public_proxy, shut_proxy) = (
        CountingProxy::start(public.addr).await,
        CountingProxy::start(shut.addr).await,
    );
    let gw = TestGateway::start(GwOpts {
        s3_endpoint: Some(public_proxy.endpoint.clone()),
        aws_keys: Some((KEYS_A.0.into(), KEYS_A.1.into())),
        ..GwOpts::default()
    })
    .await;
    gw.set_props(
        "open",
        serde_json::json!({"anonymous": "forward", "extra.aws.cloud_region": "us-east-1"}),
    )
    .await;
    gw.set_props(
        "shut",
        serde_json::json!({
            "anonymous": "forward",
            "extra.aws.endpoint": shut_proxy.endpoint,
            "extra.aws.cloud_region": "us-east-1",
        }),
    )
    .await;
    settled(&public_proxy).await;
    settled(&shut_proxy).await;
    let registry = registry_file(&gw);
    let base = gw.endpoint();

    // What the public-read upstream allows unsigned, it serves; no credential travels.
    let (status, _, body) = http_call("GET", &format!("{base}/open/x.txt"), &[], vec![]).await;
    assert_eq!((status, &body[..]), (200, &b"open bytes"[..]));
    let (status, _, body) =
        http_call("GET", &format!("{base}/open?list-type=2"), &[], vec![]).await;
    assert_eq!(status, 200);
    assert_eq!(xml_element(&body, "Key"), "x.txt");
    let ranged = h(&[("range", "bytes=20-10")]);
    let (status, _, body) = http_call("GET", &format!("{base}/open/x.txt"), &ranged, vec![]).await;
    assert_eq!((status, &body[..]), (200, &b"open bytes"[..]));
    // What it refuses unsigned reaches it unsigned, and its refusal is the answer.
    let (status, _, body) =
        http_call("PUT", &format!("{base}/open/y.txt"), &[], b"y".to_vec()).await;
    assert_eq!((status, xml_code(&body).as_str()), (403, "AccessDenied"));
    let (content_type, form) = unsigned_form(b"form bytes");
    let (status, _, body) = http_call(
        "POST",
        &format!("{base}/open"),
        &h(&[("content-type", &content_type)]),
        form,
    )
    .await;
    assert_eq!((status, xml_code(&body).as_str()), (403, "AccessDenied"));
    assert_eq!(public.get("open", "y.txt").await, None);
    assert_eq!(public.get("open", "form.txt").await, None);
    // A bucket of the upstream that allows nothing unsigned answers 403, as it would directly.
    let (status, _, body) = http_call("GET", &format!("{base}/shut/x.txt"), &[], vec![]).await;
    assert_eq!((status, xml_code(&body).as_str()), (403, "AccessDenied"));
    let direct = http_call("GET", &format!("{}/shut/x.txt", shut.endpoint), &[], vec![]).await;
    assert_eq!(
        (direct.0, xml_code(&direct.2)),
        (403, "AccessDenied".into())
    );

    for (proxy, prefix) in [
        (&public_proxy, "GET /open/x.txt"),
        (&public_proxy, "GET /open/?list-type=2"),
        (&public_proxy, "PUT /open/y.txt"),
        (&public_proxy, "PUT /open/form.txt"),
        (&shut_proxy, "GET /shut/x.txt"),
    ] {
        let sent = sent_as(proxy, prefix);
        assert!(
            !sent.is_empty(),
            "{prefix} never reached the upstream: {:?}",
            proxy.requests()
        );
        assert!(sent.iter().all(|head| !signed(head)), "{prefix}: {sent:?}");
    }
    assert_eq!(sent_as(&public_proxy, "GET /open/x.txt").len(), 2);
    assert_eq!(
        registry_file(&gw),
        registry,
        "no discovery on an unsigned caller's behalf"
    );

    // Signed callers still go upstream with the bucket's credentials.
    let got = gw
        .client()
        .get_object()
        .bucket("shut")
        .key("x.txt")
        .send()
        .await
        .expect("signed GET");
    assert_eq!(collect(got.body).await, b"shut bytes");
    let sent = sent_as(&shut_proxy, "GET /shut/x.txt");
    assert_eq!(
        sent.iter().filter(|head| signed(head)).count(),
        1,
        "{sent:?}"
    );

    // Turned off, the bucket is closed again, upstream-free.
    gw.set_props("open", serde_json::json!({"anonymous": ""}))
        .await;
    let before = settled(&public_proxy).await;
    let (status, ..) = http_call("GET", &format!("{base}/open/x.txt"), &[], vec![]).await;
    assert_eq!(status, 403);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(public_proxy.requests(), before);
}

#[tokio::test]
async fn anonymous_forward_writes_go_unsigned_to_an_upstream_that_takes_them() {
    let _g = light().await;
    let up = Upstream::start_open(&[KEYS_A], OpenTo::All).await;
    up.create_bucket("drop").await;
    up.create_bucket("other").await;
    up.put("drop", "a.txt", b"first").await;
    let proxy = CountingProxy::start(up.addr).await;
    let gw = TestGateway::start(GwOpts {
        s3_endpoint: Some(proxy.endpoint.clone()),
        aws_keys: Some((KEYS_A.0.into(), KEYS_A.1.into())),
        ..GwOpts::default()
    })
    .await;
    gw.set_props(
        "drop",
        serde_json::json!({"anonymous": "forward", "extra.aws.cloud_region": "us-east-1"}),
    )
    .await;
    settled(&proxy).await;
    let base = gw.endpoint();

    let (status, ..) = http_call("PUT", &format!("{base}/drop/b.txt"), &[], b"put".to_vec()).await;
    assert_eq!(status, 200);
    let copy = h(&[("x-amz-copy-source", "/drop/a.txt")]);
    let (status, _, body) = http_call("PUT", &format!("{base}/drop/c.txt"), &copy, vec![]).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (content_type, form) = unsigned_form(b"form bytes");
    let (status, _, body) = http_call(
        "POST",
        &format!("{base}/drop"),
        &h(&[("content-type", &content_type)]),
        form,
    )
    .await;
    assert!(
        status == 204 || status == 200,
        "{status} {}",
        String::from_utf8_lossy(&body)
    );
    let (status, ..) = http_call("DELETE", &format!("{base}/drop/a.txt"), &[], vec![]).await;
    assert_eq!(status, 204);
    assert_eq!(up.get("drop", "b.txt").await.as_deref(), Some(&b"put"[..]));
    assert_eq!(
        up.get("drop", "c.txt").await.as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(
        up.get("drop", "form.txt").await.as_deref(),
        Some(&b"form bytes"[..])
    );
    assert_eq!(up.get("drop", "a.txt").await, None);
    for prefix in [
        "PUT /drop/b.txt",
        "PUT /drop/c.txt",
        "PUT /drop/form.txt",
        "DELETE /drop/a.txt",
    ] {
        let sent = sent_as(&proxy, prefix);
        assert_eq!(sent.len(), 1, "{prefix}: {sent:?}");
        assert!(!signed(&sent[0]), "{prefix}: {sent:?}");
    }

    // The other bucket of the same upstream stays closed: nothing reaches the upstream.
    let before = settled(&proxy).await;
    for (method, path) in [
        ("GET", "/other/a.txt"),
        ("PUT", "/other/a.txt"),
        ("PUT", "/drop/d.txt?x-id=CopyObject"),
    ] {
        let headers = if path.contains("CopyObject") {
            h(&[("x-amz-copy-source", "/other/a.txt")])
        } else {
            h(&[])
        };
        let body = if headers.is_empty() {
            b"x".to_vec()
        } else {
            vec![]
        };
        let (status, _, body) = http_call(method, &format!("{base}{path}"), &headers, body).await;
        assert_eq!(
            (status, xml_code(&body).as_str()),
            (403, "AccessDenied"),
            "{method} {path}"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(proxy.requests(), before);
}
