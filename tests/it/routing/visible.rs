//! Routing you can see and trust: where a bucket's requests go and where each setting came from
//! (the admin API's `route.sources`, and `show bucket` as the binary prints it), the embedded
//! store as an explicit fallback rather than a silent one, and the embedded store answering a
//! browser preflight as S3 does for a bucket without CORS rules.

use std::process::Command;

use super::*;

/// `GET /v1/buckets/{bucket}`: the answer's `route`.
async fn route_of(gw: &TestGateway, bucket: &str) -> Value {
    let ans = gw
        .admin("GET", &format!("/v1/buckets/{bucket}"), None)
        .await;
    assert_eq!(ans.status, 200, "{}", ans.text);
    ans.json["route"].clone()
}

/// `rebucket show bucket s3://{bucket}` run by the built binary against `gw`.
fn show_text(gw: &TestGateway, bucket: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rebucket"))
        .env_clear()
        .env("HOME", gw.home.path())
        .env("REBUCKET_ADMIN_URL", format!("http://{}", gw.admin_addr()))
        .env("REBUCKET_ADMIN_TOKEN", &gw.admin_token)
        .args(["show", "bucket", &format!("s3://{bucket}")])
        .output()
        .expect("run rebucket");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The row of property `name` in `show bucket`'s table: `[value, source]`.
fn row(text: &str, name: &str) -> [String; 2] {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row {name}:\n{text}"));
    let cols: Vec<&str> = line[name.len()..]
        .trim()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    [
        cols.first().copied().unwrap_or("").to_owned(),
        cols.get(1).copied().unwrap_or("").to_owned(),
    ]
}

fn sources(route: &Value) -> [&str; 5] {
    let s = &route["sources"];
    [
        "endpoint",
        "profile",
        "region",
        "addressing_style",
        "credentials",
    ]
    .map(|k| {
        s[k].as_str()
            .unwrap_or_else(|| panic!("no source {k}: {route}"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_defaults_and_bucket_props_are_named_as_sources() {
    let _g = light().await;
    let w = world().await;

    // Unregistered: S3_ENDPOINT and the env keys route it.
    let r = route_of(&w.gw, "nowhere-yet").await;
    assert_eq!(r["endpoint"], w.a.endpoint.as_str(), "{r}");
    assert_eq!(
        sources(&r),
        [
            "env S3_ENDPOINT",
            "built-in default",
            "built-in default",
            "built-in default",
            "env AWS_ACCESS_KEY_ID"
        ],
        "{r}"
    );
    let text = show_text(&w.gw, "nowhere-yet");
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().contains("not registered"),
        "unregistered bucket not marked:\n{text}"
    );
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["PROPERTY", "VALUE", "SOURCE"], "{text}");
    assert_eq!(row(&text, "extra.aws.endpoint"), ["-", "-"], "{text}");
    assert_eq!(row(&text, "backend_bck"), ["-", "-"], "{text}");
    assert_eq!(
        row(&text, "route.endpoint"),
        [w.a.endpoint.clone(), "env S3_ENDPOINT".into()],
        "{text}"
    );
    assert_eq!(
        row(&text, "route.backend_bck"),
        ["nowhere-yet", "bucket name"],
        "{text}"
    );
    assert_eq!(row(&text, "route.addressing_style")[0], "path", "{text}");

    // Bucket props: endpoint, profile and style of the bucket; keys from the profile file.
    w.b.create_bucket("onb").await;
    w.gw.set_props(
        "onb",
        json!({"extra.aws.endpoint": w.b.endpoint, "extra.aws.profile": "pb",
               "extra.aws.addressing_style": "virtual", "backend_bck": "onb"}),
    )
    .await;
    let r = route_of(&w.gw, "onb").await;
    let [endpoint, profile, region, style, credentials] = sources(&r);
    assert_eq!(endpoint, "bucket prop extra.aws.endpoint", "{r}");
    assert_eq!(profile, "bucket prop extra.aws.profile", "{r}");
    assert_eq!(style, "bucket prop extra.aws.addressing_style", "{r}");
    assert_eq!(credentials, "profile file", "{r}");
    // The region is the looked-up one once discovery recorded it, else the profile's.
    assert!(
        ["bucket prop extra.aws.cloud_region", "profile file"].contains(&region),
        "{r}"
    );
    let text = show_text(&w.gw, "onb");
    assert!(text.starts_with("s3://onb: registered"), "{text}");
    assert_eq!(
        row(&text, "extra.aws.profile"),
        ["pb", "bucket prop"],
        "{text}"
    );
    assert_eq!(
        row(&text, "route.profile"),
        ["pb", "bucket prop extra.aws.profile"],
        "{text}"
    );
    assert_eq!(row(&text, "route.addressing_style")[0], "virtual", "{text}");
    assert_eq!(
        row(&text, "route.backend_bck"),
        ["onb", "bucket prop backend_bck"],
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_and_aws_env_variables_are_named_as_sources() {
    let _g = light().await;
    let a = Upstream::start(&[KEYS_A]).await;
    let config = format!(
        "[profile pa]\nregion = eu-west-3\nendpoint_url = {}\ns3 =\n  addressing_style = path\n",
        a.endpoint
    );
    let mut gw = TestGateway::start(GwOpts {
        aws_profile: Some("pa".into()),
        aws_config: Some(config),
        aws_credentials: Some(credentials_file()),
        ..GwOpts::default()
    })
    .await;
    let r = route_of(&gw, "viaprofile").await;
    assert_eq!(r["endpoint"], a.endpoint.as_str(), "{r}");
    assert_eq!(r["region"], "eu-west-3", "{r}");
    assert_eq!(
        sources(&r),
        [
            "profile file",
            "env AWS_PROFILE",
            "profile file",
            "profile file",
            "profile file"
        ],
        "{r}"
    );

    // AWS_ENDPOINT_URL_S3 and AWS_REGION win over the profile's settings, and say so.
    gw.env
        .insert("AWS_ENDPOINT_URL_S3".into(), format!("{}/", a.endpoint));
    gw.env.insert("AWS_REGION".into(), "ap-south-2".into());
    gw.restart().await;
    let r = route_of(&gw, "viaprofile").await;
    assert_eq!(r["region"], "ap-south-2", "{r}");
    let [endpoint, _, region, ..] = sources(&r);
    assert_eq!(endpoint, "env AWS_ENDPOINT_URL_S3", "{r}");
    assert_eq!(region, "env AWS_REGION", "{r}");
}

/// Only per-bucket profiles: no S3_ENDPOINT, no AWS_PROFILE, no env keys, no `[default]`.
fn profile_only(config_toml: Option<&str>, a: &Upstream) -> GwOpts {
    let _ = a;
    GwOpts {
        aws_config: Some(config_file()),
        aws_credentials: Some(credentials_file()),
        config_toml: config_toml.map(str::to_owned),
        ..GwOpts::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_without_a_route_is_refused_once_an_upstream_is_configured() {
    let _g = light().await;
    let a = Upstream::start(&[KEYS_A]).await;
    let gw = TestGateway::start(profile_only(None, &a)).await;
    a.create_bucket("routed").await;
    gw.set_props(
        "routed",
        json!({"extra.aws.endpoint": a.endpoint, "extra.aws.profile": "pa"}),
    )
    .await;
    let c = gw.client();
    let err = c
        .create_bucket()
        .bucket("typo")
        .send()
        .await
        .expect_err("a bucket with no upstream must be refused");
    let (status, code, message) = err_parts(&err);
    assert_eq!(
        (status, code.as_str()),
        (503, "ServiceUnavailable"),
        "{message}"
    );
    assert!(
        message.contains("\"typo\"") && message.contains("no upstream is configured"),
        "{message}"
    );
    assert!(
        !gw.data.path().join("store").join("typo").exists(),
        "the bucket landed in the embedded store"
    );
    // The admin API says so too, and the routed bucket still works and is listed.
    let r = route_of(&gw, "typo").await;
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("no upstream is configured")),
        "{r}"
    );
    let text = show_text(&gw, "typo");
    assert!(
        row(&text, "route.error")[0].contains("no upstream is configured"),
        "{text}"
    );
    put_text(&c, "routed", "k", "v").await;
    let listed = c.list_buckets().send().await.expect("ListBuckets");
    let names: Vec<_> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["routed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_fallback_can_be_turned_on() {
    let _g = light().await;
    let a = Upstream::start(&[KEYS_A]).await;
    let gw = TestGateway::start(profile_only(Some("embedded_fallback = true\n"), &a)).await;
    gw.set_props(
        "routed",
        json!({"extra.aws.endpoint": a.endpoint, "extra.aws.profile": "pa"}),
    )
    .await;
    gw.client()
        .create_bucket()
        .bucket("local")
        .send()
        .await
        .expect("the embedded store takes it");
    assert!(gw.data.path().join("store").join("local").is_dir());
    let r = route_of(&gw, "local").await;
    assert_eq!(r["embedded"], true, "{r}");
    let [endpoint, .., credentials] = sources(&r);
    assert_eq!(
        (endpoint, credentials),
        ("embedded store", "embedded store")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_configured_uses_the_embedded_store_and_its_preflights_answer_403() {
    let _g = light().await;
    let gw = TestGateway::start(GwOpts::default()).await;
    let c = gw.client();
    c.create_bucket()
        .bucket("site")
        .send()
        .await
        .expect("CreateBucket in the embedded store");
    let r = route_of(&gw, "site").await;
    assert_eq!(r["embedded"], true, "{r}");
    assert_eq!(sources(&r)[0], "embedded store", "{r}");
    // Preflights read only registered buckets' rules: a bucket created through rebucket is
    // looked up and registered on its own; `bucket add` registers it otherwise (409: it was).
    let ans = gw
        .admin("PUT", "/v1/buckets/site", Some(json!({"props": {}})))
        .await;
    assert!(ans.status == 200 || ans.status == 409, "{}", ans.text);
    let headers: Vec<(String, String)> = [
        ("origin", "http://app.example"),
        ("access-control-request-method", "GET"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec();
    let url = format!("{}/site/index.html", gw.endpoint());
    let (status, _, body) = http_call("OPTIONS", &url, &headers, Vec::new()).await;
    assert_eq!(
        status,
        403,
        "preflight on an embedded bucket: {}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(
        xml_code(&body),
        "AccessForbidden",
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_variables_apply_without_any_profile() {
    let _g = light().await;
    let a = Upstream::start(&[KEYS_A]).await;
    // No AWS files, no S3_ENDPOINT: the env keys, AWS_ENDPOINT_URL_S3 and AWS_REGION route.
    let mut gw = TestGateway::start(GwOpts {
        aws_keys: Some((KEYS_A.0.into(), KEYS_A.1.into())),
        ..GwOpts::default()
    })
    .await;
    gw.env
        .insert("AWS_ENDPOINT_URL_S3".into(), a.endpoint.clone());
    gw.env.insert("AWS_REGION".into(), "eu-north-1".into());
    gw.restart().await;
    let r = route_of(&gw, "plain").await;
    assert_eq!(r["endpoint"], a.endpoint.as_str(), "{r}");
    assert_eq!(r["region"], "eu-north-1", "{r}");
    assert_eq!(
        sources(&r),
        [
            "env AWS_ENDPOINT_URL_S3",
            "built-in default",
            "env AWS_REGION",
            "built-in default",
            "env AWS_ACCESS_KEY_ID"
        ],
        "{r}"
    );
    a.create_bucket("plain").await;
    a.put("plain", "k", b"from A").await;
    assert_eq!(
        get_text(&gw.client(), "plain", "k").await.unwrap(),
        "from A"
    );
}

/// A bucket created through rebucket is looked up and registered right away, although the
/// look-up its CreateBucket started (before it existed) failed and would otherwise hold it back
/// for the negative cache's 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_created_through_rebucket_is_registered_at_once() {
    let _g = light().await;
    let gw = TestGateway::start(GwOpts::default()).await;
    gw.client()
        .create_bucket()
        .bucket("fresh")
        .send()
        .await
        .expect("CreateBucket");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let ans = gw.admin("GET", "/v1/buckets/fresh", None).await;
        if ans.json["registered"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not registered 5 s after CreateBucket: {}",
            ans.text
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
