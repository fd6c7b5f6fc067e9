//! `/metrics` after known traffic: every counter and histogram count moves by exactly what was
//! sent, the bucket label names registered buckets only, and upstream failures are counted by
//! endpoint and kind.

use aws_sdk_s3::primitives::ByteStream;

use super::scrape;
use crate::common::*;

fn requests(op: &str, bucket: &str, status: &str) -> String {
    format!(r#"rebucket_requests_total{{operation="{op}",bucket="{bucket}",status="{status}"}}"#)
}

fn per_op(name: &str, op: &str) -> String {
    format!(r#"{name}{{operation="{op}"}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_histograms_move_by_exactly_the_traffic_sent() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket("metered").await;
    let gw = TestGateway::start(GwOpts::upstream(&up)).await;
    // Registered (and looked up) before any traffic, so its label is its name throughout.
    let ans = gw
        .admin(
            "PUT",
            "/v1/buckets/metered",
            Some(serde_json::json!({"props": {}, "force": true})),
        )
        .await;
    assert_eq!(ans.status, 200, "{}", ans.text);
    let c = gw.client();
    let before = scrape(&gw).await;

    for key in ["a", "b"] {
        c.put_object()
            .bucket("metered")
            .key(key)
            .body(ByteStream::from(vec![7u8; 1000]))
            .send()
            .await
            .expect("put");
    }
    let got = c
        .get_object()
        .bucket("metered")
        .key("a")
        .send()
        .await
        .expect("get");
    assert_eq!(collect(got.body).await.len(), 1000);
    c.head_object()
        .bucket("metered")
        .key("a")
        .send()
        .await
        .expect("head");
    c.head_object()
        .bucket("metered")
        .key("missing")
        .send()
        .await
        .expect_err("head of a missing key");
    // A bucket nobody registered is counted as `other`.
    c.head_object()
        .bucket("not-registered-here")
        .key("k")
        .send()
        .await
        .expect_err("head in a missing bucket");
    // A wrong secret is refused before s3s resolves the operation.
    let wrong = s3_client(
        &gw.endpoint(),
        &gw.front.0,
        "not-the-secret-0123456789abcdefghijklm",
    );
    wrong
        .head_object()
        .bucket("metered")
        .key("a")
        .send()
        .await
        .expect_err("wrong secret");

    let after = scrape(&gw).await;
    let moved = |series: &str| after.moved(&before, series);
    assert_eq!(moved(&requests("PutObject", "metered", "2xx")), 2.0);
    assert_eq!(moved(&requests("GetObject", "metered", "2xx")), 1.0);
    assert_eq!(moved(&requests("HeadObject", "metered", "2xx")), 1.0);
    assert_eq!(moved(&requests("HeadObject", "metered", "4xx")), 1.0);
    assert_eq!(moved(&requests("HeadObject", "other", "4xx")), 1.0);
    assert_eq!(moved(&requests("unknown", "metered", "4xx")), 1.0);
    assert_eq!(
        moved(r#"rebucket_received_bytes_total{bucket="metered"}"#),
        2000.0
    );
    // The GET's body; HEAD answers send none.
    assert_eq!(
        moved(r#"rebucket_sent_bytes_total{bucket="metered"}"#),
        1000.0
    );
    let total = "rebucket_request_duration_seconds_count";
    let upstream = "rebucket_upstream_duration_seconds_count";
    assert_eq!(moved(&per_op(total, "PutObject")), 2.0);
    assert_eq!(moved(&per_op(total, "GetObject")), 1.0);
    assert_eq!(moved(&per_op(total, "HeadObject")), 3.0);
    assert_eq!(moved(&per_op(total, "unknown")), 1.0);
    assert_eq!(moved(&per_op(upstream, "PutObject")), 2.0);
    assert_eq!(moved(&per_op(upstream, "GetObject")), 1.0);
    assert_eq!(moved(&per_op(upstream, "HeadObject")), 3.0);
    assert_eq!(moved(&per_op(upstream, "unknown")), 0.0);
    // The +Inf bucket of a histogram counts every observation.
    assert_eq!(
        moved(r#"rebucket_request_duration_seconds_bucket{operation="PutObject",le="+Inf"}"#),
        2.0
    );
    assert_eq!(after.get("rebucket_requests_in_flight"), 0.0);
    assert!(after.get(r#"rebucket_open_connections{listener="admin"}"#) >= 1.0);
    assert!(after.get("rebucket_upstream_clients") >= 1.0);
    assert!(after.get("rebucket_registry_version") >= 1.0);
    assert!(after.get("rebucket_registry_loaded_timestamp_seconds") > 1.0e9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_upstream_is_counted_by_endpoint_and_kind() {
    let _g = light().await;
    let dead = closed_endpoint().await;
    let gw = TestGateway::start(GwOpts {
        s3_endpoint: Some(dead.clone()),
        aws_keys: Some((KEYS_A.0.into(), KEYS_A.1.into())),
        ..GwOpts::default()
    })
    .await;
    let before = scrape(&gw).await;
    for _ in 0..3 {
        gw.client()
            .get_object()
            .bucket("down")
            .key("k")
            .send()
            .await
            .expect_err("dead upstream");
    }
    let after = scrape(&gw).await;
    let refused = format!(r#"rebucket_upstream_errors_total{{endpoint="{dead}",kind="refused"}}"#);
    assert_eq!(after.moved(&before, &refused), 3.0, "{after:?}");
    assert_eq!(
        after.moved(&before, &requests("GetObject", "other", "5xx")),
        3.0
    );
    // Discovery of the unknown bucket fails too, in the background.
    for _ in 0..50 {
        if scrape(&gw)
            .await
            .get(r#"rebucket_discovery_lookups_total{result="error"}"#)
            >= 1.0
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the failed discovery look-up was not counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_reloads_are_counted_by_trigger() {
    let _g = light().await;
    let gw = TestGateway::start(GwOpts::default()).await;
    let before = scrape(&gw).await;
    let ans = gw.admin("POST", "/v1/reload-creds", None).await;
    assert_eq!(ans.status, 200, "{}", ans.text);
    let after = scrape(&gw).await;
    assert_eq!(
        after.moved(
            &before,
            r#"rebucket_credential_reloads_total{trigger="admin",result="ok"}"#
        ),
        1.0
    );
}
