//! Failing upstreams seen through the front: a dead upstream fails fast with a 503 naming the
//! bucket and endpoint and no secret, and answers that are no S3 answers (a proxy's 5xx pages,
//! body-less errors) keep their status.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

use crate::common::*;

/// A gateway whose S3_ENDPOINT is a closed port.
async fn dead_gateway() -> (String, TestGateway) {
    let dead = closed_endpoint().await;
    let gw = TestGateway::start(GwOpts {
        s3_endpoint: Some(dead.clone()),
        aws_keys: Some((KEYS_A.0.into(), KEYS_A.1.into())),
        ..GwOpts::default()
    })
    .await;
    (dead, gw)
}

/// What holds today and must keep holding: a dead upstream fails fast, with a server error,
/// and leaks no secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_fails_fast_without_leaking_secrets() {
    let _g = light().await;
    let (_dead, gw) = dead_gateway().await;
    let c = gw.client();
    let started = Instant::now();
    let e = c
        .get_object()
        .bucket("downbucket")
        .key("k")
        .send()
        .await
        .expect_err("GET against a dead upstream");
    let elapsed = started.elapsed();
    let (status, code, message) = err_parts(&e);
    println!("upstream down: {elapsed:?}: {status} {code}: {message}");
    assert!(status >= 500, "{e:?}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    let raw = format!("{e:?}");
    for secret in [KEYS_A.1, FRONT_SK, ADMIN_TOKEN] {
        assert!(!raw.contains(secret), "answer leaks a secret: {raw}");
    }

    let started = Instant::now();
    let e = c
        .put_object()
        .bucket("downbucket")
        .key("k")
        .body(ByteStream::from(vec![7u8; 100_000]))
        .send()
        .await
        .expect_err("PUT against a dead upstream");
    assert!(err_parts(&e).0 >= 500, "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!format!("{e:?}").contains(KEYS_A.1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_answers_503_naming_bucket_and_endpoint() {
    let _g = light().await;
    let (dead, gw) = dead_gateway().await;
    let c = gw.client();
    let hostport = dead.trim_start_matches("http://").to_owned();

    let started = Instant::now();
    let e = c
        .get_object()
        .bucket("downbucket")
        .key("k")
        .send()
        .await
        .expect_err("GET against a dead upstream");
    let elapsed = started.elapsed();
    let (status, code, message) = err_parts(&e);
    assert_eq!(
        (status, code.as_str()),
        (503, "ServiceUnavailable"),
        "{e:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(
        message.contains("downbucket"),
        "message names no bucket: {message}"
    );
    assert!(
        message.contains(&hostport),
        "message names no endpoint: {message}"
    );
    for secret in [KEYS_A.1, FRONT_SK, ADMIN_TOKEN] {
        assert!(
            !message.contains(secret),
            "message leaks a secret: {message}"
        );
    }

    // Same for a listing and an upload.
    let e = c
        .list_objects_v2()
        .bucket("downbucket")
        .send()
        .await
        .expect_err("list against a dead upstream");
    let (status, code, message) = err_parts(&e);
    assert_eq!((status, code.as_str()), (503, "ServiceUnavailable"));
    assert!(
        message.contains("downbucket") && message.contains(&hostport),
        "{message}"
    );

    let e = c
        .put_object()
        .bucket("downbucket")
        .key("k")
        .body(ByteStream::from(vec![7u8; 100_000]))
        .send()
        .await
        .expect_err("PUT against a dead upstream");
    let (status, code, message) = err_parts(&e);
    assert_eq!(
        (status, code.as_str()),
        (503, "ServiceUnavailable"),
        "{e:?}"
    );
    assert!(
        !message.contains(KEYS_A.1),
        "message leaks a secret: {message}"
    );
}

// An endpoint whose answers are no S3 answers (a proxy's 5xx pages). What real S3 servers answer
// beyond the SDK's output (206 HEADs, 416 Content-Range, GetObjectAttributes, tagging counts) is
// checked against moto, rclone and SeaweedFS by the differential suite in conformance/.

/// A HEAD of the bucket (discovery) answers with a region; everything else comes from `object`.
fn canned_bucket(method: &str, target: &str, object: fn(&str, &str) -> Canned) -> Canned {
    if method == "HEAD" && !target.trim_start_matches('/').contains('/') {
        return Canned::new(200).header("x-amz-bucket-region", "us-east-1");
    }
    object(method, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_5xx_page_keeps_its_status() {
    let _g = light().await;
    let up = CannedUpstream::start(|m, t| {
        canned_bucket(m, t, |_, t| {
            if t.contains("garbled") {
                // rclone's answer to ?tagging: the object's bytes, which the SDK cannot read.
                return Canned::new(500)
                    .header("content-type", "application/octet-stream")
                    .body("xxxxxxxx");
            }
            let status = if t.contains("busy") { 503 } else { 500 };
            Canned::new(status)
                .header("content-type", "text/html")
                .body("<html><body>Something went wrong</body></html>")
        })
    })
    .await;
    let gw = up.gateway().await;
    let hostport = up.endpoint.trim_start_matches("http://").to_owned();
    for (key, want_status, want_code) in [
        ("busy", 503, "ServiceUnavailable"),
        ("broken", 500, "InternalError"),
        ("garbled", 500, "InternalError"),
    ] {
        let e = gw
            .client()
            .get_object_tagging()
            .bucket("canned")
            .key(key)
            .send()
            .await
            .expect_err("upstream 5xx");
        let (status, code, message) = err_parts(&e);
        assert_eq!((status, code.as_str()), (want_status, want_code), "{e:?}");
        assert!(
            message.contains("canned") && message.contains(&hostport),
            "message names no bucket or endpoint: {message}"
        );
        assert!(!message.contains(KEYS_A.1), "{message}");
    }
}

/// garage answers a failed If-Match with a body-less 412 (S3 sends an error document): the
/// client gets S3's `412 PreconditionFailed`, not an InternalError about the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bodiless_upstream_4xx_is_the_s3_error_of_its_status() {
    let _g = light().await;
    let up = CannedUpstream::start(|m, t| {
        canned_bucket(m, t, |_, t| {
            let status = if t.contains("range") { 416 } else { 412 };
            Canned::new(status).header("content-length", "0")
        })
    })
    .await;
    let gw = up.gateway().await;
    for (key, want_status, want_code) in [
        ("precondition", 412, "PreconditionFailed"),
        ("range", 416, "InvalidRange"),
    ] {
        let e = gw
            .client()
            .get_object()
            .bucket("canned")
            .key(key)
            .if_match("\"nope\"")
            .send()
            .await
            .expect_err("upstream 4xx");
        let (status, code, _) = err_parts(&e);
        assert_eq!((status, code.as_str()), (want_status, want_code), "{e:?}");
    }
}
