//! Per-bucket routing (issue 4): two s3s-fs upstreams with different keys, bucket properties
//! set through the admin API, and proof of which upstream got each request and which keys
//! signed it.
//!
//! Until the profile parser lands (see `common::profiles_supported`), buckets routed to B can
//! only be signed with the environment's keys (A's), so B then also accepts A's keys; once the
//! parser is in, B accepts only its own and buckets name profile `pb`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use common::*;
use serde_json::{Value, json};

struct World {
    a: Upstream,
    b: Upstream,
    gw: TestGateway,
    /// Whether profile files are read (then buckets on B sign with profile `pb`).
    profiles: bool,
}

fn credentials_file() -> String {
    let mut s = String::new();
    for (name, (ak, sk)) in [("pa", KEYS_A), ("pb", KEYS_B), ("pc", KEYS_C)] {
        s.push_str(&format!(
            "[{name}]\naws_access_key_id = {ak}\naws_secret_access_key = {sk}\n\n"
        ));
    }
    s
}

fn config_file() -> String {
    ["pa", "pb", "pc"]
        .iter()
        .map(|p| format!("[profile {p}]\nregion = us-east-1\n\n"))
        .collect()
}

/// Upstreams A and B, and a gateway whose default is A (S3_ENDPOINT + A's keys in the env).
async fn world() -> World {
    let profiles = profiles_supported();
    static NOTICE: std::sync::Once = std::sync::Once::new();
    if !profiles {
        NOTICE.call_once(|| {
            eprintln!(
                "NOTICE: profile files are not read in this branch: buckets routed to B sign with \
             the environment's keys, which B accepts too"
            )
        });
    }
    let a = Upstream::start(&[KEYS_A]).await;
    let b = if profiles {
        Upstream::start(&[KEYS_B]).await
    } else {
        Upstream::start(&[KEYS_B, KEYS_A]).await
    };
    let gw = TestGateway::start(GwOpts {
        aws_config: Some(config_file()),
        aws_credentials: Some(credentials_file()),
        ..GwOpts::upstream(&a)
    })
    .await;
    World { a, b, gw, profiles }
}

impl World {
    /// Props that route a bucket to B (with B's profile when profiles are read).
    fn to_b(&self) -> Value {
        if self.profiles {
            json!({"extra.aws.endpoint": self.b.endpoint, "extra.aws.profile": "pb"})
        } else {
            json!({"extra.aws.endpoint": self.b.endpoint})
        }
    }

    /// Props that route a bucket to A explicitly.
    fn to_a(&self) -> Value {
        if self.profiles {
            json!({"extra.aws.endpoint": self.a.endpoint, "extra.aws.profile": "pa"})
        } else {
            json!({"extra.aws.endpoint": self.a.endpoint})
        }
    }

    async fn both_have(&self, bucket: &str) {
        self.a.create_bucket(bucket).await;
        self.b.create_bucket(bucket).await;
    }
}

fn clear() -> Value {
    json!({"extra.aws.endpoint": "", "extra.aws.profile": ""})
}

/// GET through `c`: the body as text, or (status, code, message).
async fn get_text(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<String, (u16, String, String)> {
    match c.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(String::from_utf8(collect(out.body).await).expect("utf-8")),
        Err(e) => Err(err_parts(&e)),
    }
}

async fn put_text(c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {bucket}/{key} through the gateway: {e:?}"));
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_endpoint_routes_to_its_upstream_and_clearing_restores() {
    let _g = light().await;
    let w = world().await;
    w.both_have("route-me").await;
    w.a.put("route-me", "who", b"A").await;
    w.b.put("route-me", "who", b"B").await;
    let c = w.gw.client();

    assert_eq!(get_text(&c, "route-me", "who").await.as_deref(), Ok("A"));

    w.gw.set_props("route-me", w.to_b()).await;
    assert_eq!(get_text(&c, "route-me", "who").await.as_deref(), Ok("B"));
    put_text(&c, "route-me", "new", "written while on B").await;
    assert_eq!(
        w.b.get("route-me", "new").await.as_deref(),
        Some(&b"written while on B"[..])
    );
    assert_eq!(w.a.get("route-me", "new").await, None, "object also on A");

    let shown = w.gw.admin("GET", "/v1/buckets/route-me", None).await;
    assert_eq!(shown.status, 200);
    assert_eq!(
        shown.json["route"]["endpoint"],
        json!(w.b.endpoint),
        "{}",
        shown.text
    );
    assert_eq!(
        shown.json["props"]["extra.aws.endpoint"],
        json!(w.b.endpoint)
    );

    // Clearing the property brings the default (S3_ENDPOINT = A) back.
    w.gw.set_props("route-me", clear()).await;
    assert_eq!(get_text(&c, "route-me", "who").await.as_deref(), Ok("A"));
    let (status, code, _) = get_text(&c, "route-me", "new")
        .await
        .expect_err("new is on B only");
    assert_eq!((status, code.as_str()), (404, "NoSuchKey"));
    let shown = w.gw.admin("GET", "/v1/buckets/route-me", None).await;
    assert_eq!(
        shown.json["route"]["endpoint"],
        json!(w.a.endpoint),
        "{}",
        shown.text
    );
    assert_eq!(shown.json["props"]["extra.aws.endpoint"], json!(""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_props_take_precedence_over_s3_endpoint() {
    let _g = light().await;
    let w = world().await;
    for bucket in ["prec-one", "prec-two"] {
        w.both_have(bucket).await;
        w.a.put(bucket, "who", b"A").await;
        w.b.put(bucket, "who", b"B").await;
    }
    let c = w.gw.client();
    w.gw.set_props("prec-one", w.to_b()).await;
    assert_eq!(get_text(&c, "prec-one", "who").await.as_deref(), Ok("B"));
    // The other bucket keeps the start-up default.
    assert_eq!(get_text(&c, "prec-two", "who").await.as_deref(), Ok("A"));
    let listed = c
        .list_objects_v2()
        .bucket("prec-one")
        .send()
        .await
        .expect("list");
    assert_eq!(listed.contents().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_refuses_keys_that_are_not_its_own() {
    let _g = light().await;
    let w = world().await;
    let c_up = Upstream::start(&[KEYS_C]).await;
    c_up.create_bucket("wrong-keys").await;
    c_up.put("wrong-keys", "k", b"C").await;
    let c = w.gw.client();

    // No profile: the environment's keys (A's) sign, and C does not know them.
    w.gw.set_props("wrong-keys", json!({"extra.aws.endpoint": c_up.endpoint}))
        .await;
    let (status, code, _) = get_text(&c, "wrong-keys", "k")
        .await
        .expect_err("C accepted A's keys");
    assert_eq!(status, 403, "{code}");
    assert!(
        code == "InvalidAccessKeyId" || code == "NotSignedUp",
        "not the upstream's refusal of an unknown key: {code}"
    );

    if skip_unless(
        w.profiles,
        "upstream_refuses_keys_that_are_not_its_own (profile part)",
        "the profile parser",
    ) {
        return;
    }
    // C's own profile signs: accepted.
    w.gw.set_props("wrong-keys", json!({"extra.aws.profile": "pc"}))
        .await;
    assert_eq!(get_text(&c, "wrong-keys", "k").await.as_deref(), Ok("C"));
    // B's profile against C: refused.
    w.gw.set_props("wrong-keys", json!({"extra.aws.profile": "pb"}))
        .await;
    let (status, _, _) = get_text(&c, "wrong-keys", "k")
        .await
        .expect_err("C accepted B's keys");
    assert_eq!(status, 403);
    // And B refuses A's keys: a bucket on B without B's profile fails.
    w.b.create_bucket("wk-b").await;
    w.gw.set_props("wk-b", json!({"extra.aws.endpoint": w.b.endpoint}))
        .await;
    let e = c
        .list_objects_v2()
        .bucket("wk-b")
        .send()
        .await
        .expect_err("B accepted A's keys");
    assert_eq!(err_parts(&e).0, 403);
    w.gw.set_props("wk-b", json!({"extra.aws.profile": "pb"}))
        .await;
    c.list_objects_v2()
        .bucket("wk-b")
        .send()
        .await
        .expect("B with its own profile");
}

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
    let (props, profile) = if w.profiles {
        (
            json!({"extra.aws.endpoint": dead, "extra.aws.profile": "pa"}),
            "pa",
        )
    } else {
        (json!({"extra.aws.endpoint": dead}), "default")
    };
    w.gw.set_props("deadbucket", props).await;
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
    assert!(message.contains(profile), "no profile in: {message}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_bck_alias_reads_and_writes_the_backend_bucket() {
    let _g = light().await;
    let w = world().await;
    w.a.create_bucket("real-bucket").await;
    w.a.put("real-bucket", "doc.txt", b"real content").await;
    w.gw.set_props("alias", json!({"backend_bck": "real-bucket"}))
        .await;
    let c = w.gw.client();
    assert_eq!(
        get_text(&c, "alias", "doc.txt").await.as_deref(),
        Ok("real content")
    );
    put_text(&c, "alias", "via-alias.txt", "through the alias").await;
    assert_eq!(
        w.a.get("real-bucket", "via-alias.txt").await.as_deref(),
        Some(&b"through the alias"[..])
    );
    let listed = c
        .list_objects_v2()
        .bucket("alias")
        .send()
        .await
        .expect("list alias");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["doc.txt", "via-alias.txt"]);
    c.head_object()
        .bucket("alias")
        .key("doc.txt")
        .send()
        .await
        .expect("head through the alias");
    // Copy within the alias (same upstream: forwarded with the backend name as the source).
    c.copy_object()
        .bucket("alias")
        .key("copy.txt")
        .copy_source("alias/doc.txt")
        .send()
        .await
        .expect("copy within the alias");
    assert_eq!(
        w.a.get("real-bucket", "copy.txt").await.as_deref(),
        Some(&b"real content"[..])
    );
    // Alias and backend together with an endpoint: the backend bucket on B.
    w.b.create_bucket("b-real").await;
    w.b.put("b-real", "doc.txt", b"on B").await;
    let mut props = w.to_b();
    props["backend_bck"] = json!("b-real");
    w.gw.set_props("alias", props).await;
    assert_eq!(
        get_text(&c, "alias", "doc.txt").await.as_deref(),
        Ok("on B")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_bck_alias_answers_with_the_client_bucket_name() {
    let _g = light().await;
    let w = world().await;
    w.a.create_bucket("hidden-backend").await;
    w.gw.set_props("front-name", json!({"backend_bck": "hidden-backend"}))
        .await;
    let c = w.gw.client();
    let listed = c
        .list_objects_v2()
        .bucket("front-name")
        .send()
        .await
        .expect("list");
    assert_eq!(listed.name(), Some("front-name"));
    let listed = c
        .list_objects()
        .bucket("front-name")
        .send()
        .await
        .expect("list v1");
    assert_eq!(listed.name(), Some("front-name"));
    let mp = c
        .create_multipart_upload()
        .bucket("front-name")
        .key("k")
        .send()
        .await
        .expect("create multipart");
    assert_eq!(mp.bucket(), Some("front-name"));
}

/// moto names objects by a URL of its own (`http://<bucket>.s3.amazonaws.com/<key>`) in
/// CompleteMultipartUpload and the bucket in CreateBucket's Location; through rebucket a bucket
/// whose `backend_bck` differs shows neither that host nor the backend name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_give_out_neither_the_upstream_address_nor_the_backend_bucket() {
    let _g = light().await;
    let Some(moto) = moto::Moto::start() else {
        return;
    };
    let w = world().await;
    w.gw.set_props(
        "front-name",
        json!({"extra.aws.endpoint": moto.url, "backend_bck": "hidden-backend"}),
    )
    .await;
    let c = w.gw.client();
    let created = c
        .create_bucket()
        .bucket("front-name")
        .send()
        .await
        .expect("create bucket");
    assert_eq!(created.location(), Some("/front-name"));
    let mp = c
        .create_multipart_upload()
        .bucket("front-name")
        .key("dir/a b")
        .send()
        .await
        .expect("create multipart");
    assert_eq!(mp.bucket(), Some("front-name"));
    let upload_id = mp.upload_id().expect("upload id");
    let part = c
        .upload_part()
        .bucket("front-name")
        .key("dir/a b")
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from_static(b"one part"))
        .send()
        .await
        .expect("upload part");
    let done = c
        .complete_multipart_upload()
        .bucket("front-name")
        .key("dir/a b")
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().expect("etag"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("complete");
    assert_eq!(done.bucket(), Some("front-name"));
    assert_eq!(
        done.location(),
        Some(format!("{}/front-name/dir/a%20b", w.gw.endpoint()).as_str()),
        "the object's URL through the gateway"
    );
    // The object is in moto's bucket of the backend name.
    let direct = s3_client(&moto.url, KEYS_A.0, KEYS_A.1);
    let head = direct
        .head_object()
        .bucket("hidden-backend")
        .key("dir/a b")
        .send()
        .await
        .expect("object upstream");
    assert_eq!(head.content_length(), Some(8));
}

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

    // The placeholder registry says only `invalid extra.aws.endpoint "foo"`.
    let placeholder = ans.json["error"] == json!(r#"invalid extra.aws.endpoint "foo""#);
    if skip_unless(
        !placeholder,
        "invalid_endpoint_is_refused_with_a_clear_message (exact message)",
        "the registry's endpoint validation",
    ) {
        return;
    }
    assert_eq!(
        ans.json["error"],
        json!(
            r#"invalid extra.aws.endpoint "foo": unsupported scheme "" (expecting http or https)"#
        ),
        "{}",
        ans.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_upstream_copy_of_a_large_object_streams() {
    let _g = heavy().await;
    let big = big_file_async().await;
    let w = world().await;
    w.a.create_bucket("src-big").await;
    w.b.create_bucket("dst-big").await;
    w.a.client()
        .put_object()
        .bucket("src-big")
        .key("blob.bin")
        .metadata("kind", "big")
        .body(ByteStream::from_path(&big.path).await.expect("from_path"))
        .send()
        .await
        .expect("seed the source on A");
    w.gw.set_props("dst-big", w.to_b()).await;
    let c = w.gw.client();

    let probe = MemProbe::start();
    let started = Instant::now();
    c.copy_object()
        .bucket("dst-big")
        .key("copied.bin")
        .copy_source("src-big/blob.bin")
        .send()
        .await
        .expect("cross-upstream copy");
    let secs = started.elapsed().as_secs_f64();
    let mem = probe.finish("cross-upstream CopyObject of 105 MiB");
    println!("cross-upstream copy took {secs:.1}s");

    // On B, whole, with its metadata; and read back through the gateway.
    let head =
        w.b.client()
            .head_object()
            .bucket("dst-big")
            .key("copied.bin")
            .send()
            .await
            .expect("copy is on B");
    assert_eq!(head.content_length(), Some(big.len as i64));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("kind"))
            .map(String::as_str),
        Some("big")
    );
    assert_eq!(
        head.e_tag().map(|e| e.trim_matches('"')),
        Some(big.md5.as_str())
    );
    let out = c
        .get_object()
        .bucket("dst-big")
        .key("copied.bin")
        .send()
        .await
        .expect("get the copy");
    let (md5, len, _) = md5_stream(out.body).await;
    assert_eq!((md5.as_str(), len), (big.md5.as_str(), big.len));
    assert!(
        mem.increase < 64 * MIB,
        "cross-upstream copy of {} MiB raised resident memory by {} MiB",
        big.len / MIB,
        mem.increase / MIB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_upstream_upload_part_copy() {
    let _g = light().await;
    let w = world().await;
    w.a.create_bucket("upc-src").await;
    w.b.create_bucket("upc-dst").await;
    let data = pattern(6 * MIB as usize + 777, 42);
    w.a.put("upc-src", "obj", &data).await;
    w.gw.set_props("upc-dst", w.to_b()).await;
    let c = w.gw.client();

    let upload_id = c
        .create_multipart_upload()
        .bucket("upc-dst")
        .key("assembled")
        .send()
        .await
        .expect("create multipart on B")
        .upload_id()
        .expect("upload id")
        .to_owned();
    let split = 5 * MIB as usize;
    let ranges = [
        format!("bytes=0-{}", split - 1),
        format!("bytes={split}-{}", data.len() - 1),
    ];
    let mut parts = Vec::new();
    for (i, range) in ranges.iter().enumerate() {
        let n = i as i32 + 1;
        let out = c
            .upload_part_copy()
            .bucket("upc-dst")
            .key("assembled")
            .upload_id(&upload_id)
            .part_number(n)
            .copy_source("upc-src/obj")
            .copy_source_range(range)
            .send()
            .await
            .unwrap_or_else(|e| panic!("upload part copy {n} ({range}): {e:?}"));
        let etag = out
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .expect("part etag")
            .to_owned();
        let expected = if n == 1 {
            &data[..split]
        } else {
            &data[split..]
        };
        assert_eq!(
            etag.trim_matches('"'),
            md5_hex(expected),
            "etag of part {n}"
        );
        parts.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    c.complete_multipart_upload()
        .bucket("upc-dst")
        .key("assembled")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .expect("complete on B");
    let on_b = w.b.get("upc-dst", "assembled").await.expect("on B");
    assert_eq!(md5_hex(&on_b), md5_hex(&data));
    assert_eq!(w.a.get("upc-src", "assembled").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn props_flips_under_traffic_never_fail_a_request() {
    let _g = light().await;
    let w = Arc::new(world().await);
    w.both_have("flip").await;
    const SEEDS: usize = 4;
    const TASKS: usize = 4;
    const FLIPS: usize = 20;
    let seed_body = |up: &str, i: usize| {
        let mut s = format!("{up}:seed-{i}:");
        s.push_str(&"x".repeat(20_000 + i));
        s
    };
    for i in 0..SEEDS {
        for (name, up) in [("A", &w.a), ("B", &w.b)] {
            up.client()
                .put_object()
                .bucket("flip")
                .key(format!("seed-{i}"))
                .metadata("upstream", name)
                .body(ByteStream::from(seed_body(name, i).into_bytes()))
                .send()
                .await
                .expect("seed");
        }
    }
    w.gw.set_props("flip", w.to_a()).await;

    let done = Arc::new(AtomicBool::new(false));
    let served = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let mut workers = Vec::new();
    for t in 0..TASKS {
        let w = w.clone();
        let done = done.clone();
        let served = served.clone();
        workers.push(tokio::spawn(async move {
            let c = w.gw.client();
            let mut errors = Vec::new();
            let mut puts = Vec::new();
            let mut n = 0usize;
            while !done.load(Ordering::Relaxed) {
                let key = format!("t{t}-{n}");
                let body = format!("{key}:{}", "y".repeat(10_000 + n % 100));
                match c
                    .put_object()
                    .bucket("flip")
                    .key(&key)
                    .body(ByteStream::from(body.clone().into_bytes()))
                    .send()
                    .await
                {
                    Ok(_) => puts.push((key, body)),
                    Err(e) => errors.push(format!("PUT {key}: {:?}", err_parts(&e))),
                }
                let i = n % SEEDS;
                match c
                    .get_object()
                    .bucket("flip")
                    .key(format!("seed-{i}"))
                    .send()
                    .await
                {
                    Ok(out) => {
                        let tag = out
                            .metadata()
                            .and_then(|m| m.get("upstream"))
                            .cloned()
                            .unwrap_or_default();
                        let got = String::from_utf8(collect(out.body).await).unwrap_or_default();
                        match tag.as_str() {
                            "A" | "B" if got == seed_body(&tag, i) => {
                                served[usize::from(tag == "B")].fetch_add(1, Ordering::Relaxed);
                            }
                            _ => errors.push(format!(
                                "GET seed-{i}: metadata says {tag:?}, body starts {:?}",
                                &got[..got.len().min(20)]
                            )),
                        }
                    }
                    Err(e) => errors.push(format!("GET seed-{i}: {:?}", err_parts(&e))),
                }
                n += 1;
            }
            (errors, puts)
        }));
    }

    for flip in 0..FLIPS {
        tokio::time::sleep(Duration::from_millis(60)).await;
        let props = if flip % 2 == 0 { w.to_b() } else { w.to_a() };
        w.gw.set_props("flip", props).await;
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    done.store(true, Ordering::Relaxed);

    let mut errors = Vec::new();
    let mut puts = Vec::new();
    for h in workers {
        let (e, p) = h.await.expect("worker");
        errors.extend(e);
        puts.extend(p);
    }
    let (via_a, via_b) = (
        served[0].load(Ordering::Relaxed),
        served[1].load(Ordering::Relaxed),
    );
    println!(
        "flips: {} PUTs, GETs served by A {via_a}, by B {via_b}, {} errors",
        puts.len(),
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "{} failed requests: {errors:#?}",
        errors.len()
    );
    assert!(
        via_a > 0 && via_b > 0,
        "flips had no effect: A {via_a}, B {via_b}"
    );

    // Every PUT landed whole on exactly one upstream.
    let (mut on_a, mut on_b) = (0, 0);
    for (key, body) in &puts {
        let a = w.a.get("flip", key).await;
        let b = w.b.get("flip", key).await;
        match (a, b) {
            (Some(x), None) if x == body.as_bytes() => on_a += 1,
            (None, Some(x)) if x == body.as_bytes() => on_b += 1,
            (a, b) => panic!(
                "{key}: on A {:?} bytes, on B {:?} bytes, expected exactly one with {} bytes",
                a.map(|v| v.len()),
                b.map(|v| v.len()),
                body.len()
            ),
        }
    }
    println!("flips: PUTs landed on A {on_a}, on B {on_b}");
    assert!(
        on_a > 0 && on_b > 0,
        "PUTs all on one side: A {on_a}, B {on_b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_persists_across_restart() {
    let _g = light().await;
    if skip_unless(
        registry_persists(),
        "registry_persists_across_restart",
        "a registry that persists to the data dir",
    ) {
        return;
    }
    let mut w = world().await;
    w.both_have("keep").await;
    w.b.put("keep", "who", b"B").await;
    w.a.put("keep", "who", b"A").await;
    let mut props = w.to_b();
    props["extra.aws.cloud_region"] = json!("eu-west-3");
    w.gw.set_props("keep", props).await;
    w.gw.set_props("keep-alias", json!({"backend_bck": "keep"}))
        .await;
    let before = w.gw.admin("GET", "/v1/buckets/keep", None).await.json;

    w.gw.restart().await;
    let after = w.gw.admin("GET", "/v1/buckets/keep", None).await.json;
    assert_eq!(after["registered"], json!(true));
    assert_eq!(after["props"], before["props"]);
    assert_eq!(after["props"]["extra.aws.endpoint"], json!(w.b.endpoint));
    let alias = w.gw.admin("GET", "/v1/buckets/keep-alias", None).await.json;
    assert_eq!(alias["props"]["backend_bck"], json!("keep"));
    let c = w.gw.client();
    assert_eq!(get_text(&c, "keep", "who").await.as_deref(), Ok("B"));
}

/// ListBuckets merges the default upstream's buckets with the ones routed elsewhere, and the
/// client's prefix and pages apply to the merged list: a bucket routed to B is listed once,
/// only under a prefix it matches, on the page its name falls in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_buckets_pages_the_merged_list() {
    let _g = light().await;
    let w = world().await;
    for name in ["lb-a1", "lb-a3", "other-a"] {
        w.a.create_bucket(name).await;
    }
    w.b.create_bucket("lb-b2").await;
    w.gw.set_props("lb-b2", w.to_b()).await;
    let c = w.gw.client();
    let names = |out: &aws_sdk_s3::operation::list_buckets::ListBucketsOutput| -> Vec<String> {
        out.buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_owned))
            .collect()
    };

    let all = c.list_buckets().prefix("lb-").send().await.expect("list");
    assert_eq!(names(&all), ["lb-a1", "lb-a3", "lb-b2"]);
    assert_eq!(all.prefix(), Some("lb-"));
    assert_eq!(all.continuation_token(), None);

    let first = c
        .list_buckets()
        .prefix("lb-")
        .max_buckets(2)
        .send()
        .await
        .expect("page 1");
    assert_eq!(names(&first), ["lb-a1", "lb-a3"]);
    let token = first
        .continuation_token()
        .expect("a second page")
        .to_owned();
    let second = c
        .list_buckets()
        .prefix("lb-")
        .max_buckets(2)
        .continuation_token(token)
        .send()
        .await
        .expect("page 2");
    assert_eq!(names(&second), ["lb-b2"]);
    assert_eq!(second.continuation_token(), None);

    let none = c.list_buckets().prefix("zz").send().await.expect("list");
    assert!(names(&none).is_empty(), "{:?}", names(&none));
}
