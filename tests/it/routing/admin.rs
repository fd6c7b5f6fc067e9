//! The admin API that sets bucket properties: the token, answers without secrets, refused
//! properties and endpoints.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_requires_the_token() {
    let _g = light().await;
    let w = world().await;
    let addr = w.gw.admin_addr();
    let calls: [(&str, &str, Option<Value>); 6] = [
        ("GET", "/v1/buckets", None),
        ("GET", "/v1/buckets/tok", None),
        (
            "PATCH",
            "/v1/buckets/tok/props",
            Some(json!({"props": {"extra.aws.endpoint": w.b.endpoint}, "force": true})),
        ),
        ("PUT", "/v1/buckets/tok", Some(json!({"props": {}}))),
        ("GET", "/v1/profiles", None),
        ("POST", "/v1/reload-creds", None),
    ];
    let wrong_prefix = &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1];
    let wrong_longer = format!("{ADMIN_TOKEN}x");
    for (method, path, body) in &calls {
        for token in [
            None,
            Some("wrong-token"),
            Some(wrong_prefix),
            Some(wrong_longer.as_str()),
            Some(""),
        ] {
            let ans = admin_call(addr, token, method, path, body.clone()).await;
            assert_eq!(
                ans.status, 401,
                "{method} {path} with token {token:?}: {}",
                ans.text
            );
            assert!(!ans.text.contains(ADMIN_TOKEN));
        }
    }
    // Nothing changed.
    let shown = w.gw.admin("GET", "/v1/buckets/tok", None).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.json["registered"], json!(false), "{}", shown.text);
    // The token in another scheme is refused too.
    let (status, _, _) = http_call(
        "GET",
        &format!("http://{addr}/v1/buckets"),
        &[("authorization".into(), format!("Basic {ADMIN_TOKEN}"))],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 401);
    // Health needs none; the right token works.
    assert_eq!(
        admin_call(addr, None, "GET", "/v1/health", None)
            .await
            .status,
        200
    );
    assert_eq!(w.gw.admin("GET", "/v1/buckets", None).await.status, 200);
    // Adding a registered bucket again is a conflict that changes nothing.
    let props = json!({"props": {"backend_bck": "tok-a"}});
    let first = w.gw.admin("PUT", "/v1/buckets/tok", Some(props)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let props = json!({"props": {"backend_bck": "tok-b"}});
    let again = w.gw.admin("PUT", "/v1/buckets/tok", Some(props)).await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert!(again.text.contains("registered already"), "{}", again.text);
    let shown = w.gw.admin("GET", "/v1/buckets/tok", None).await;
    assert_eq!(
        shown.json["props"]["backend_bck"],
        json!("tok-a"),
        "{}",
        shown.text
    );
    // The S3 front does not take the admin token as keys either.
    let c = s3_client(&w.gw.endpoint(), "admin", ADMIN_TOKEN);
    assert!(c.list_buckets().send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_answers_never_contain_a_secret() {
    let _g = light().await;
    let w = world().await;
    w.both_have("sec").await;
    let mut texts = Vec::new();
    texts.push(w.gw.set_props("sec", w.to_b()).await.text);
    texts.push(
        w.gw.set_props(
            "sec-a",
            json!({"extra.aws.profile": "pa", "backend_bck": "sec"}),
        )
        .await
        .text,
    );
    texts.push(
        w.gw.admin("PUT", "/v1/buckets/sec-new", Some(json!({"props": {}})))
            .await
            .text,
    );
    for path in [
        "/v1/buckets",
        "/v1/buckets/sec",
        "/v1/buckets/sec-a",
        "/v1/buckets/unregistered",
        "/v1/profiles",
    ] {
        let ans = w.gw.admin("GET", path, None).await;
        assert_eq!(ans.status, 200, "{path}: {}", ans.text);
        texts.push(ans.text);
    }
    texts.push(w.gw.admin("POST", "/v1/reload-creds", None).await.text);
    let all = texts.join("\n");
    for secret in [KEYS_A.1, KEYS_B.1, KEYS_C.1, FRONT_SK, ADMIN_TOKEN] {
        assert!(
            !all.contains(secret),
            "an admin answer contains {secret:?}:\n{all}"
        );
    }
    // The answers do say where buckets go.
    let shown = w.gw.admin("GET", "/v1/buckets/sec", None).await;
    assert_eq!(shown.json["route"]["endpoint"], json!(w.b.endpoint));
    let creds = shown.json["route"]["credentials"].as_str().unwrap_or("");
    assert!(
        creds.starts_with("static ") && creds.contains('…'),
        "{}",
        shown.text
    );
    let listed = w.gw.admin("GET", "/v1/buckets", None).await;
    let names: Vec<&str> = listed.json["buckets"]
        .as_array()
        .map(|a| a.iter().filter_map(|b| b["name"].as_str()).collect())
        .unwrap_or_default();
    for b in ["sec", "sec-a", "sec-new"] {
        assert!(names.contains(&b), "{b} not listed: {}", listed.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_property_is_refused_and_changes_nothing() {
    let _g = light().await;
    let w = world().await;
    for body in [
        json!({"props": {"extra.aws.colour": "blue"}, "force": true}),
        json!({"props": {"extra.aws.endpoint": w.b.endpoint, "extra.aws.colour": "blue"}, "force": true}),
    ] {
        let ans =
            w.gw.admin("PATCH", "/v1/buckets/unk/props", Some(body))
                .await;
        assert_eq!(ans.status, 400, "{}", ans.text);
        assert!(ans.text.contains("extra.aws.colour"), "{}", ans.text);
    }
    let shown = w.gw.admin("GET", "/v1/buckets/unk", None).await;
    assert_eq!(shown.json["registered"], json!(false), "{}", shown.text);
    assert_eq!(shown.json["props"]["extra.aws.endpoint"], json!(""));
    // A malformed body is refused as well.
    let ans =
        w.gw.admin(
            "PATCH",
            "/v1/buckets/unk/props",
            Some(json!({"propz": {"extra.aws.endpoint": w.b.endpoint}})),
        )
        .await;
    assert_eq!(ans.status, 400, "{}", ans.text);
    let ans =
        w.gw.admin("PATCH", "/v1/buckets/unk/props", Some(json!({"props": {}})))
            .await;
    assert_eq!(ans.status, 400, "empty change accepted: {}", ans.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_endpoint_is_refused_with_a_clear_message() {
    let _g = light().await;
    let w = world().await;
    let ans =
        w.gw.admin(
            "PATCH",
            "/v1/buckets/badep/props",
            Some(json!({"props": {"extra.aws.endpoint": "foo"}, "force": true})),
        )
        .await;
    assert_eq!(ans.status, 400, "{}", ans.text);
    let shown = w.gw.admin("GET", "/v1/buckets/badep", None).await;
    assert_eq!(shown.json["props"]["extra.aws.endpoint"], json!(""));

    assert_eq!(
        ans.json["error"],
        json!(
            r#"invalid extra.aws.endpoint "foo": unsupported scheme "" (expecting http or https)"#
        ),
        "{}",
        ans.text
    );
}
