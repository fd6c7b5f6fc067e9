//! Object and bucket operations through the gateway: copy, delete, listings, HEAD, missing keys,
//! ListBuckets, and the embedded store used when nothing is configured.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::setup;
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_object_within_and_across_buckets() {
    let _g = light().await;
    let (up, gw) = setup("cpa").await;
    up.create_bucket("cpb").await;
    let data = pattern(300_000, 11);
    let c = gw.client();
    c.put_object()
        .bucket("cpa")
        .key("src.bin")
        .content_type("image/x-test")
        .metadata("color", "blue")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .expect("put source");

    c.copy_object()
        .bucket("cpa")
        .key("copy.bin")
        .copy_source("cpa/src.bin")
        .send()
        .await
        .expect("copy within bucket");
    c.copy_object()
        .bucket("cpb")
        .key("nested/copy.bin")
        .copy_source("cpa/src.bin")
        .send()
        .await
        .expect("copy across buckets");

    for (b, k) in [("cpa", "copy.bin"), ("cpb", "nested/copy.bin")] {
        let out = c
            .get_object()
            .bucket(b)
            .key(k)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {b}/{k}: {e:?}"));
        assert_eq!(
            out.metadata()
                .and_then(|m| m.get("color"))
                .map(String::as_str),
            Some("blue"),
            "metadata of {b}/{k}"
        );
        assert_eq!(collect(out.body).await, data, "bytes of {b}/{k}");
        assert_eq!(
            up.get(b, k).await.as_deref(),
            Some(&data[..]),
            "upstream {b}/{k}"
        );
    }

    // A copy from a key that does not exist fails with NoSuchKey.
    let e = c
        .copy_object()
        .bucket("cpb")
        .key("x")
        .copy_source("cpa/missing")
        .send()
        .await
        .expect_err("copy of a missing key");
    let (status, code, _) = err_parts(&e);
    assert_eq!((status, code.as_str()), (404, "NoSuchKey"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_object_and_delete_objects() {
    let _g = light().await;
    let (up, gw) = setup("del").await;
    for k in ["a", "b", "c", "d"] {
        up.put("del", k, k.as_bytes()).await;
    }
    let c = gw.client();
    c.delete_object()
        .bucket("del")
        .key("a")
        .send()
        .await
        .expect("delete object");
    assert_eq!(up.get("del", "a").await, None);

    let ids = ["b", "c"]
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().expect("id"))
        .collect();
    let out = c
        .delete_objects()
        .bucket("del")
        .delete(
            Delete::builder()
                .set_objects(Some(ids))
                .build()
                .expect("delete"),
        )
        .send()
        .await
        .expect("delete objects");
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["b", "c"]);
    assert!(out.errors().is_empty(), "errors: {:?}", out.errors());
    assert_eq!(up.get("del", "b").await, None);
    assert_eq!(up.get("del", "c").await, None);
    assert_eq!(up.get("del", "d").await.as_deref(), Some(&b"d"[..]));

    let listed = c
        .list_objects_v2()
        .bucket("del")
        .send()
        .await
        .expect("list");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["d"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_objects_v1_and_v2_prefix_delimiter_pagination() {
    let _g = light().await;
    let (up, gw) = setup("lst").await;
    let keys = ["k1", "k2", "k3", "k4", "k5"];
    for k in keys {
        up.put("lst", k, b"x").await;
    }
    for k in ["dir/a", "dir/b", "dir/sub/c", "other/d"] {
        up.put("lst", k, b"y").await;
    }
    let c = gw.client();

    // v2, max-keys 2 over 5 keys, following continuation tokens.
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_objects_v2()
            .bucket("lst")
            .prefix("k")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .expect("list v2 page");
        let page: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        assert_eq!(out.key_count(), Some(page.len() as i32));
        pages.push(page);
        if out.is_truncated() == Some(true) {
            token = Some(
                out.next_continuation_token()
                    .expect("truncated page without a continuation token")
                    .to_owned(),
            );
        } else {
            assert_eq!(out.next_continuation_token(), None);
            break;
        }
        assert!(pages.len() < 10, "pagination does not end");
    }
    assert_eq!(pages, vec![vec!["k1", "k2"], vec!["k3", "k4"], vec!["k5"]]);

    // v2 with a delimiter: top-level keys and common prefixes.
    let out = c
        .list_objects_v2()
        .bucket("lst")
        .delimiter("/")
        .send()
        .await
        .expect("list v2 delimiter");
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    let top: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(prefixes, ["dir/", "other/"]);
    assert_eq!(top, keys);

    // v2 with prefix and delimiter.
    let out = c
        .list_objects_v2()
        .bucket("lst")
        .prefix("dir/")
        .delimiter("/")
        .send()
        .await
        .expect("list v2 prefix+delimiter");
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    let inner: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(prefixes, ["dir/sub/"]);
    assert_eq!(inner, ["dir/a", "dir/b"]);

    // v1 with a marker and max-keys.
    let mut all = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = c
            .list_objects()
            .bucket("lst")
            .prefix("k")
            .max_keys(2)
            .set_marker(marker.clone())
            .send()
            .await
            .expect("list v1 page");
        let page: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        assert!(page.len() <= 2);
        all.extend(page.iter().cloned());
        if out.is_truncated() != Some(true) {
            break;
        }
        marker = Some(
            out.next_marker()
                .map(str::to_owned)
                .or_else(|| page.last().cloned())
                .expect("truncated v1 page without a marker"),
        );
        assert!(all.len() < 20, "v1 pagination does not end");
    }
    assert_eq!(all, keys);

    // v1 with prefix and delimiter.
    let out = c
        .list_objects()
        .bucket("lst")
        .prefix("dir/")
        .delimiter("/")
        .send()
        .await
        .expect("list v1 delimiter");
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    let inner: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(prefixes, ["dir/sub/"]);
    assert_eq!(inner, ["dir/a", "dir/b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_object_passes_metadata_through() {
    let _g = light().await;
    let (_up, gw) = setup("meta").await;
    let c = gw.client();
    c.put_object()
        .bucket("meta")
        .key("m.json")
        .content_type("application/json")
        .content_disposition("attachment; filename=\"m.json\"")
        .cache_control("max-age=60")
        .metadata("owner", "alice")
        .metadata("Project-Code", "X42")
        .body(ByteStream::from_static(b"{}"))
        .send()
        .await
        .expect("put");
    let out = c
        .head_object()
        .bucket("meta")
        .key("m.json")
        .send()
        .await
        .expect("head");
    assert_eq!(out.content_type(), Some("application/json"));
    assert_eq!(out.content_length(), Some(2));
    assert_eq!(out.cache_control(), Some("max-age=60"));
    assert_eq!(
        out.content_disposition(),
        Some("attachment; filename=\"m.json\"")
    );
    assert_eq!(
        out.e_tag().map(|e| e.trim_matches('"')),
        Some(md5_hex(b"{}").as_str())
    );
    let meta = out.metadata().expect("metadata");
    assert_eq!(meta.get("owner").map(String::as_str), Some("alice"));
    assert_eq!(meta.get("project-code").map(String::as_str), Some("X42"));

    // Raw header check: x-amz-meta-* reach the client as headers.
    let req = c
        .head_object()
        .bucket("meta")
        .key("m.json")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).expect("cfg"))
        .await
        .expect("presign head");
    let (status, headers, _) = http_call("HEAD", req.uri(), &[], Vec::new()).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers
            .get("x-amz-meta-owner")
            .and_then(|v| v.to_str().ok()),
        Some("alice")
    );
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_key_is_no_such_key_404() {
    let _g = light().await;
    let (_up, gw) = setup("nsk").await;
    let c = gw.client();
    let e = c
        .get_object()
        .bucket("nsk")
        .key("nope")
        .send()
        .await
        .expect_err("get of a missing key");
    let (status, code, _) = err_parts(&e);
    assert_eq!((status, code.as_str()), (404, "NoSuchKey"));
    assert!(e.into_service_error().is_no_such_key());

    let e = c
        .head_object()
        .bucket("nsk")
        .key("nope")
        .send()
        .await
        .expect_err("head of a missing key");
    assert_eq!(err_parts(&e).0, 404);

    let e = c
        .list_objects_v2()
        .bucket("no-such-bucket-here")
        .send()
        .await
        .expect_err("list of a missing bucket");
    let (status, code, _) = err_parts(&e);
    assert_eq!((status, code.as_str()), (404, "NoSuchBucket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_buckets_answers_from_upstream() {
    let _g = light().await;
    let (up, gw) = setup("listed-one").await;
    up.create_bucket("listed-two").await;
    let out = gw
        .client()
        .list_buckets()
        .send()
        .await
        .expect("list buckets");
    let names: Vec<&str> = out.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["listed-one", "listed-two"]);

    // A bucket made through the gateway lands upstream and is listed.
    gw.client()
        .create_bucket()
        .bucket("listed-three")
        .send()
        .await
        .expect("create bucket");
    let direct = up
        .client()
        .list_buckets()
        .send()
        .await
        .expect("list upstream");
    assert!(
        direct
            .buckets()
            .iter()
            .any(|b| b.name() == Some("listed-three"))
    );
    let out = gw
        .client()
        .list_buckets()
        .send()
        .await
        .expect("list buckets");
    let names: Vec<&str> = out.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["listed-one", "listed-three", "listed-two"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_serves_when_nothing_is_configured() {
    let _g = light().await;
    let gw = TestGateway::start(GwOpts {
        front_keys: None,
        admin_token: None,
        ..GwOpts::default()
    })
    .await;
    // Keys and token were generated into the data dir.
    assert!(
        gw.front.0.starts_with("RB"),
        "generated access key {:?}",
        gw.front.0
    );
    assert!(gw.data.path().join("front-keys.json").exists());
    assert!(gw.data.path().join("admin-token").exists());
    let c = gw.client();
    c.create_bucket()
        .bucket("local")
        .send()
        .await
        .expect("mb on the embedded store");
    c.put_object()
        .bucket("local")
        .key("hello.txt")
        .body(ByteStream::from_static(b"hello embedded"))
        .send()
        .await
        .expect("put on the embedded store");
    let out = c
        .get_object()
        .bucket("local")
        .key("hello.txt")
        .send()
        .await
        .expect("get from the embedded store");
    assert_eq!(collect(out.body).await, b"hello embedded");
    // The bytes live in the data dir's store.
    assert!(
        gw.data
            .path()
            .join("store")
            .join("local")
            .join("hello.txt")
            .exists(),
        "object not in <data-dir>/store"
    );
    let listed = c.list_buckets().send().await.expect("list buckets");
    let names: Vec<&str> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    assert!(names.contains(&"local"), "{names:?}");
}
