//! Routing by bucket properties: a bucket's endpoint and profile choose its upstream and keys,
//! over S3_ENDPOINT; flips under traffic, persistence across restarts, the merged ListBuckets.

use super::*;

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
