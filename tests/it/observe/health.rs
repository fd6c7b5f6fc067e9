//! `/healthz` and `/readyz` on the admin listener, without a token: readiness flips when the
//! stored registry cannot be loaded, and — when `ready_checks_upstream` is set — when the
//! default upstream is down.

use crate::common::*;

async fn probe(gw: &TestGateway, path: &str) -> AdminAnswer {
    admin_call(gw.admin_addr(), None, "GET", path, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_flips_when_the_registry_cannot_be_loaded() {
    let _g = light().await;
    let gw = TestGateway::start(GwOpts::default()).await;
    let alive = probe(&gw, "/healthz").await;
    assert_eq!(alive.status, 200, "{}", alive.text);
    assert_eq!(probe(&gw, "/v1/health").await.status, 200);
    let ready = probe(&gw, "/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json["checks"]["registry"], "ok");
    assert_eq!(ready.json["checks"]["listeners"], "ok");
    assert!(
        ready.json["checks"].get("upstream").is_none(),
        "{}",
        ready.text
    );

    let file = gw.data.path().join("registry.json");
    std::fs::write(&file, "{ not json").expect("corrupt the registry");
    let not_ready = probe(&gw, "/readyz").await;
    assert_eq!(not_ready.status, 503, "{}", not_ready.text);
    assert_eq!(not_ready.json["status"], "not ready");
    let why = not_ready.json["checks"]["registry"].as_str().unwrap();
    assert!(why.contains("corrupt"), "{why}");
    // Liveness does not depend on it.
    assert_eq!(probe(&gw, "/healthz").await.status, 200);

    std::fs::remove_file(&file).expect("remove");
    assert_eq!(probe(&gw, "/readyz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_default_upstream_when_configured() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    let checks = Some("ready_checks_upstream = true\n".to_owned());
    let gw = TestGateway::start(GwOpts {
        config_toml: checks.clone(),
        ..GwOpts::upstream(&up)
    })
    .await;
    let ready = probe(&gw, "/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json["checks"]["upstream"], "ok");

    let dead = closed_endpoint().await;
    let gw = TestGateway::start(GwOpts {
        s3_endpoint: Some(dead.clone()),
        aws_keys: Some((KEYS_A.0.into(), KEYS_A.1.into())),
        config_toml: checks,
        ..GwOpts::default()
    })
    .await;
    let not_ready = probe(&gw, "/readyz").await;
    assert_eq!(not_ready.status, 503, "{}", not_ready.text);
    let why = not_ready.json["checks"]["upstream"].as_str().unwrap();
    assert!(why.contains(&dead), "{why}");

    // Without the setting, a dead default upstream leaves the gateway ready.
    let gw = TestGateway::start(GwOpts {
        s3_endpoint: Some(dead),
        aws_keys: Some((KEYS_A.0.into(), KEYS_A.1.into())),
        ..GwOpts::default()
    })
    .await;
    assert_eq!(probe(&gw, "/readyz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_metrics_need_no_token_but_the_api_still_does() {
    let _g = light().await;
    let gw = TestGateway::start(GwOpts::default()).await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(probe(&gw, path).await.status, 200, "{path}");
    }
    assert_eq!(probe(&gw, "/v1/buckets").await.status, 401);
}
