//! What the front accepts and refuses: signatures, presigned URLs, unknown keys, anonymous
//! requests, unknown methods.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;

use super::setup;
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_get_and_put() {
    let _g = light().await;
    let (up, gw) = setup("pre").await;
    let c = gw.client();
    let cfg = || PresigningConfig::expires_in(Duration::from_secs(300)).expect("presigning");

    // PUT through a presigned URL, with a plain HTTP client.
    let body = b"uploaded through a presigned URL".to_vec();
    let req = c
        .put_object()
        .bucket("pre")
        .key("p/u.txt")
        .presigned(cfg())
        .await
        .expect("presign put");
    let headers: Vec<(String, String)> = req
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let (status, _, resp) = http_call(req.method(), req.uri(), &headers, body.clone()).await;
    assert_eq!(
        status,
        200,
        "presigned PUT: {}",
        String::from_utf8_lossy(&resp)
    );
    assert_eq!(up.get("pre", "p/u.txt").await, Some(body.clone()));

    // GET through a presigned URL.
    let req = c
        .get_object()
        .bucket("pre")
        .key("p/u.txt")
        .presigned(cfg())
        .await
        .expect("presign get");
    let headers: Vec<(String, String)> = req
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let (status, _, resp) = http_call(req.method(), req.uri(), &headers, Vec::new()).await;
    assert_eq!(
        status,
        200,
        "presigned GET: {}",
        String::from_utf8_lossy(&resp)
    );
    assert_eq!(resp.to_vec(), body);

    // A presigned URL whose signature was tampered with is refused.
    let uri = req.uri();
    let at = uri.find("X-Amz-Signature=").expect("signature in URL") + "X-Amz-Signature=".len();
    let flipped = if uri.as_bytes()[at] == b'0' { "1" } else { "0" };
    let tampered = format!("{}{flipped}{}", &uri[..at], &uri[at + 1..]);
    let (status, _, resp) = http_call("GET", &tampered, &headers, Vec::new()).await;
    assert_eq!(
        status,
        403,
        "tampered presigned GET: {}",
        String::from_utf8_lossy(&resp)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_front_secret_is_refused() {
    let _g = light().await;
    let (up, gw) = setup("auth").await;
    up.put("auth", "k", b"v").await;
    let c = s3_client(
        &gw.endpoint(),
        FRONT_AK,
        "not-the-right-secret-000000000000000000",
    );
    let e = c
        .get_object()
        .bucket("auth")
        .key("k")
        .send()
        .await
        .expect_err("wrong secret accepted");
    let (status, code, _) = err_parts(&e);
    assert_eq!((status, code.as_str()), (403, "SignatureDoesNotMatch"));

    // A PUT with a wrong secret is refused and leaves nothing behind.
    let e = c
        .put_object()
        .bucket("auth")
        .key("k2")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("wrong secret accepted on PUT");
    assert_eq!(err_parts(&e).0, 403);
    assert_eq!(up.get("auth", "k2").await, None);

    // The upstream's own keys are no front keys.
    let c = s3_client(&gw.endpoint(), KEYS_A.0, KEYS_A.1);
    let e = c
        .get_object()
        .bucket("auth")
        .key("k")
        .send()
        .await
        .expect_err("upstream keys accepted at the front");
    assert_eq!(err_parts(&e).0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_front_access_key_is_refused() {
    let _g = light().await;
    let (up, gw) = setup("authk").await;
    up.put("authk", "k", b"v").await;
    let c = s3_client(&gw.endpoint(), "AKIANOBODYKNOWSTHIS1", FRONT_SK);
    let e = c
        .get_object()
        .bucket("authk")
        .key("k")
        .send()
        .await
        .expect_err("unknown access key accepted");
    let (status, _, _) = err_parts(&e);
    assert_eq!(status, 403, "unknown access key: {e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_front_access_key_is_invalid_access_key_id() {
    let _g = light().await;
    let (_up, gw) = setup("authi").await;
    let c = s3_client(&gw.endpoint(), "AKIANOBODYKNOWSTHIS1", FRONT_SK);
    let e = c
        .list_objects_v2()
        .bucket("authi")
        .send()
        .await
        .expect_err("unknown access key accepted");
    let (status, code, _) = err_parts(&e);
    assert_eq!((status, code.as_str()), (403, "InvalidAccessKeyId"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_request_is_refused() {
    let _g = light().await;
    let (up, gw) = setup("anon").await;
    up.put("anon", "public.txt", b"secret stuff").await;
    let base = gw.endpoint();
    for (method, path, body) in [
        ("GET", "/anon/public.txt", Vec::new()),
        ("GET", "/anon", Vec::new()),
        ("GET", "/", Vec::new()),
        ("PUT", "/anon/new.txt", b"x".to_vec()),
    ] {
        let (status, _, resp) = http_call(method, &format!("{base}{path}"), &[], body).await;
        assert_eq!(
            status,
            403,
            "anonymous {method} {path}: {}",
            String::from_utf8_lossy(&resp)
        );
        assert_eq!(xml_code(&resp), "AccessDenied", "anonymous {method} {path}");
        assert!(!resp.windows(12).any(|w| w == b"secret stuff"));
    }
    assert_eq!(up.get("anon", "new.txt").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_method_is_405_method_not_allowed() {
    let _g = light().await;
    let (up, gw) = setup("meth").await;
    up.put("meth", "k", b"kept").await;
    // A signed PATCH: the request is built as a GET, its method changed before signing.
    let err = gw
        .client()
        .get_object()
        .bucket("meth")
        .key("k")
        .customize()
        .mutate_request(|req| {
            req.set_method("PATCH").expect("a method");
        })
        .send()
        .await
        .expect_err("PATCH is no S3 operation");
    assert_eq!(err_parts(&err).0, 405, "{err:?}");
    assert_eq!(err_parts(&err).1, "MethodNotAllowed", "{err:?}");
    assert_eq!(up.get("meth", "k").await.as_deref(), Some(&b"kept"[..]));
}
