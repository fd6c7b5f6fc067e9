//! A routed bucket whose upstream is dead, or whose profile is unknown, fails alone, with a 503
//! naming the bucket, the profile and the endpoint.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_endpoint_fails_only_its_own_bucket() {
    let _g = light().await;
    let w = world().await;
    w.a.create_bucket("live").await;
    w.a.put("live", "k", b"alive").await;
    let dead = closed_endpoint().await;
    w.gw.set_props("dead", json!({"extra.aws.endpoint": dead}))
        .await;
    let c = w.gw.client();
    for _ in 0..3 {
        let started = Instant::now();
        let (status, _, message) = get_text(&c, "dead", "k").await.expect_err("dead answered");
        assert!(status >= 500, "{status} {message}");
        assert!(started.elapsed() < Duration::from_secs(5));
        for secret in [KEYS_A.1, KEYS_B.1, FRONT_SK] {
            assert!(!message.contains(secret), "leaks a secret: {message}");
        }
        assert_eq!(get_text(&c, "live", "k").await.as_deref(), Ok("alive"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_endpoint_answers_503_naming_bucket_profile_endpoint() {
    let _g = light().await;
    let w = world().await;
    let dead = closed_endpoint().await;
    w.gw.set_props(
        "deadbucket",
        json!({"extra.aws.endpoint": dead, "extra.aws.profile": "pa"}),
    )
    .await;
    let c = w.gw.client();
    let started = Instant::now();
    let (status, code, message) = get_text(&c, "deadbucket", "k")
        .await
        .expect_err("dead answered");
    assert_eq!(
        (status, code.as_str()),
        (503, "ServiceUnavailable"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(message.contains("deadbucket"), "no bucket in: {message}");
    assert!(message.contains("pa"), "no profile in: {message}");
    assert!(
        message.contains(dead.trim_start_matches("http://")),
        "no endpoint in: {message}"
    );
    for secret in [KEYS_A.1, KEYS_B.1, FRONT_SK] {
        assert!(!message.contains(secret), "leaks a secret: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_profile_answers_503_naming_bucket_profile_endpoint() {
    let _g = light().await;
    let w = world().await;
    w.a.create_bucket("fine").await;
    w.a.put("fine", "k", b"ok").await;
    // Refused without force: the profile is in no file.
    let ans =
        w.gw.admin(
            "PATCH",
            "/v1/buckets/noprof/props",
            Some(json!({"props": {"extra.aws.profile": "ghost"}})),
        )
        .await;
    assert_eq!(ans.status, 400, "{}", ans.text);
    assert!(ans.text.contains("ghost"), "{}", ans.text);
    // Forced: the bucket cannot be routed and says why.
    w.gw.set_props("noprof", json!({"extra.aws.profile": "ghost"}))
        .await;
    let c = w.gw.client();
    let (status, code, message) = get_text(&c, "noprof", "k")
        .await
        .expect_err("unroutable bucket answered");
    assert_eq!(
        (status, code.as_str()),
        (503, "ServiceUnavailable"),
        "{message}"
    );
    assert!(message.contains("noprof"), "no bucket in: {message}");
    assert!(message.contains("ghost"), "no profile in: {message}");
    assert!(
        message.contains(w.a.endpoint.trim_start_matches("http://")),
        "no endpoint in: {message}"
    );
    assert!(!message.contains(KEYS_A.1));
    assert_eq!(get_text(&c, "fine", "k").await.as_deref(), Ok("ok"));
}
