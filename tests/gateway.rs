//! The S3 front end to end (issue 2): every test drives a real gateway with aws-sdk-s3 against an
//! s3s-fs upstream that checks signatures.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use common::*;

/// An upstream with one bucket and a gateway in front of it (S3_ENDPOINT + env keys).
async fn setup(bucket: &str) -> (Upstream, TestGateway) {
    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket(bucket).await;
    let gw = TestGateway::start(GwOpts::upstream(&up)).await;
    (up, gw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_object_put_get_streams_with_flat_memory() {
    let _g = heavy().await;
    let big = big_file_async().await;
    let (up, gw) = setup("big").await;
    let c = gw.client();

    let probe = MemProbe::start();
    let started = Instant::now();
    c.put_object()
        .bucket("big")
        .key("blob.bin")
        .body(ByteStream::from_path(&big.path).await.expect("from_path"))
        .send()
        .await
        .expect("put big object");
    let put_secs = started.elapsed().as_secs_f64();
    let put_mem = probe.finish("PUT 105 MiB through the gateway");

    // The upstream holds exactly the bytes.
    let stored = up
        .client()
        .head_object()
        .bucket("big")
        .key("blob.bin")
        .send()
        .await
        .expect("head upstream");
    assert_eq!(stored.content_length(), Some(big.len as i64));

    let probe = MemProbe::start();
    let started = Instant::now();
    let out = c
        .get_object()
        .bucket("big")
        .key("blob.bin")
        .send()
        .await
        .expect("get big object");
    assert_eq!(out.content_length(), Some(big.len as i64));
    let (md5, len, largest_chunk) = md5_stream(out.body).await;
    let get_secs = started.elapsed().as_secs_f64();
    let get_mem = probe.finish("GET 105 MiB through the gateway");
    println!("PUT {put_secs:.1}s, GET {get_secs:.1}s, largest GET chunk {largest_chunk} bytes");

    assert_eq!(len, big.len);
    assert_eq!(md5, big.md5, "GET bytes differ from the PUT file");
    let limit = 64 * MIB;
    assert!(
        put_mem.increase < limit,
        "PUT of {} MiB raised resident memory by {} MiB (limit {} MiB): the body is buffered",
        big.len / MIB,
        put_mem.increase / MIB,
        limit / MIB
    );
    assert!(
        get_mem.increase < limit,
        "GET of {} MiB raised resident memory by {} MiB (limit {} MiB): the body is buffered",
        big.len / MIB,
        get_mem.increase / MIB,
        limit / MIB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_upload_three_parts_with_list_parts() {
    let _g = light().await;
    let (up, gw) = setup("multi").await;
    let c = gw.client();
    let sizes = [5 * MIB as usize, 5 * MIB as usize, 1234];
    let parts: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, n)| pattern(*n, 100 + i as u64))
        .collect();

    let create = c
        .create_multipart_upload()
        .bucket("multi")
        .key("dir/multi.bin")
        .content_type("application/x-test")
        .metadata("origin", "multipart")
        .send()
        .await
        .expect("create multipart upload");
    let upload_id = create.upload_id().expect("upload id").to_owned();

    let mut completed = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let out = c
            .upload_part()
            .bucket("multi")
            .key("dir/multi.bin")
            .upload_id(&upload_id)
            .part_number(n)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("upload part {n}: {e:?}"));
        let etag = out.e_tag().expect("part etag").to_owned();
        assert_eq!(etag.trim_matches('"'), md5_hex(data), "etag of part {n}");
        completed.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }

    let listed = c
        .list_parts()
        .bucket("multi")
        .key("dir/multi.bin")
        .upload_id(&upload_id)
        .send()
        .await
        .expect("list parts");
    // s3s-fs lists parts in directory order; the gateway forwards what it gets.
    let mut got: Vec<(i32, i64)> = listed
        .parts()
        .iter()
        .map(|p| (p.part_number().unwrap_or(0), p.size().unwrap_or(0)))
        .collect();
    got.sort_unstable();
    assert_eq!(
        got,
        vec![
            (1, sizes[0] as i64),
            (2, sizes[1] as i64),
            (3, sizes[2] as i64)
        ]
    );

    c.complete_multipart_upload()
        .bucket("multi")
        .key("dir/multi.bin")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .expect("complete multipart upload");

    let whole: Vec<u8> = parts.concat();
    let out = c
        .get_object()
        .bucket("multi")
        .key("dir/multi.bin")
        .send()
        .await
        .expect("get completed object");
    assert_eq!(out.content_type(), Some("application/x-test"));
    assert_eq!(
        out.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("multipart")
    );
    assert_eq!(md5_hex(&collect(out.body).await), md5_hex(&whole));
    // And it is on the upstream, under the same name.
    assert_eq!(
        up.get("multi", "dir/multi.bin").await.map(|b| md5_hex(&b)),
        Some(md5_hex(&whole))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_get_and_suffix_range() {
    let _g = light().await;
    let (up, gw) = setup("rng").await;
    let data = pattern(1000, 7);
    up.put("rng", "r.bin", &data).await;
    let c = gw.client();

    let out = c
        .get_object()
        .bucket("rng")
        .key("r.bin")
        .range("bytes=10-19")
        .send()
        .await
        .expect("range get");
    assert_eq!(out.content_length(), Some(10));
    assert_eq!(out.content_range(), Some("bytes 10-19/1000"));
    assert_eq!(collect(out.body).await, data[10..20]);

    let out = c
        .get_object()
        .bucket("rng")
        .key("r.bin")
        .range("bytes=-25")
        .send()
        .await
        .expect("suffix range get");
    assert_eq!(out.content_length(), Some(25));
    assert_eq!(out.content_range(), Some("bytes 975-999/1000"));
    assert_eq!(collect(out.body).await, data[975..]);

    let out = c
        .get_object()
        .bucket("rng")
        .key("r.bin")
        .range("bytes=990-")
        .send()
        .await
        .expect("open range get");
    assert_eq!(collect(out.body).await, data[990..]);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_s3_cannot_honour_is_ignored_like_s3_does() {
    let _g = light().await;
    let (up, gw) = setup("badrange").await;
    let data = pattern(100, 3);
    up.put("badrange", "o", &data).await;
    let c = gw.client();
    for range in ["bytes=20-10", "bytes=0-1,5-6", "items=0-5", "bytes=abc"] {
        let out = c
            .get_object()
            .bucket("badrange")
            .key("o")
            .range(range)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET with Range {range}: {e:?}"));
        assert_eq!(out.content_range(), None, "{range}");
        assert_eq!(collect(out.body).await, data, "{range}");
        let head = c
            .head_object()
            .bucket("badrange")
            .key("o")
            .range(range)
            .send()
            .await
            .unwrap_or_else(|e| panic!("HEAD with Range {range}: {e:?}"));
        assert_eq!(head.content_length(), Some(100), "{range}");
    }
    // Through a presigned URL too (its signature parameters are checked, then dropped).
    let req = c
        .get_object()
        .bucket("badrange")
        .key("o")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .expect("presign");
    let mut headers: Vec<(String, String)> = req
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    headers.push(("range".into(), "bytes=9-1".into()));
    let (status, _, body) = http_call(req.method(), req.uri(), &headers, Vec::new()).await;
    assert_eq!((status, body.to_vec()), (200, data.clone()));
    // The signature is still checked first: a wrong secret is refused.
    let wrong = s3_client(&gw.endpoint(), &gw.front.0, "not-the-secret");
    let err = wrong
        .get_object()
        .bucket("badrange")
        .key("o")
        .range("bytes=20-10")
        .send()
        .await
        .expect_err("wrong secret");
    assert_eq!(err_parts(&err).0, 403, "{err:?}");
    // And an unsigned request is refused.
    let uri = format!("{}/badrange/o", gw.endpoint());
    let unsigned = [("range".to_owned(), "bytes=20-10".to_owned())];
    let (status, _, _) = http_call("GET", &uri, &unsigned, Vec::new()).await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_framing_stored_as_content_encoding_is_not_served() {
    let _g = light().await;
    let (up, gw) = setup("enc").await;
    // Objects an upstream stored with the framing of their upload in Content-Encoding.
    for (key, stored) in [("plain", "aws-chunked"), ("zipped", "gzip,aws-chunked")] {
        up.client()
            .put_object()
            .bucket("enc")
            .key(key)
            .content_encoding(stored)
            .body(ByteStream::from_static(b"data"))
            .send()
            .await
            .expect("upstream put");
        let direct = up
            .client()
            .head_object()
            .bucket("enc")
            .key(key)
            .send()
            .await;
        assert_eq!(
            direct.expect("upstream head").content_encoding(),
            Some(stored)
        );
    }
    let c = gw.client();
    for (key, want) in [("plain", None), ("zipped", Some("gzip"))] {
        let got = c
            .get_object()
            .bucket("enc")
            .key(key)
            .send()
            .await
            .expect("get");
        assert_eq!(got.content_encoding(), want, "GET {key}");
        let head = c
            .head_object()
            .bucket("enc")
            .key(key)
            .send()
            .await
            .expect("head");
        assert_eq!(head.content_encoding(), want, "HEAD {key}");
    }
}

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

/// A checksum the client sends as an aws-chunked trailer (the SDK's way with a streaming body)
/// reaches the upstream with its value: s3s-fs, like S3, refuses an upload that names its
/// algorithm without a value, and stores the checksum it is given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailing_checksum_reaches_the_upstream() {
    use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
    let _g = light().await;
    let (up, gw) = setup("trail").await;
    let data = pattern(300 * 1024 + 7, 11);
    let file = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(file.path(), &data).expect("write tempfile");
    for (algorithm, name) in [
        (ChecksumAlgorithm::Crc32C, "CRC32C"),
        (ChecksumAlgorithm::Sha256, "SHA256"),
    ] {
        let mut checksum = name
            .parse::<aws_smithy_checksums::ChecksumAlgorithm>()
            .expect("algorithm")
            .into_impl();
        checksum.update(&data);
        let header = checksum.header_name();
        let expected = checksum.header_value().to_str().expect("ascii").to_owned();
        let key = format!("k-{name}");
        let put = gw
            .client()
            .put_object()
            .bucket("trail")
            .key(&key)
            .checksum_algorithm(algorithm.clone())
            .body(ByteStream::from_path(file.path()).await.expect("from_path"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put with a {name} trailer: {e:?}"));
        let echoed = match algorithm {
            ChecksumAlgorithm::Crc32C => put.checksum_crc32_c(),
            _ => put.checksum_sha256(),
        };
        assert_eq!(
            echoed,
            Some(expected.as_str()),
            "{header} in the PUT answer"
        );
        let stored = up
            .client()
            .head_object()
            .bucket("trail")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .expect("head upstream");
        let stored_value = match algorithm {
            ChecksumAlgorithm::Crc32C => stored.checksum_crc32_c(),
            _ => stored.checksum_sha256(),
        };
        assert_eq!(
            stored_value,
            Some(expected.as_str()),
            "{header} stored upstream"
        );
        assert_eq!(stored.content_length(), Some(data.len() as i64));
        assert_eq!(up.get("trail", &key).await.as_deref(), Some(&data[..]));
    }
}

/// A PUT or an UploadPart declaring more than 5 GiB is refused at once with 400
/// EntityTooLarge, without waiting for the body (only 1 KiB is sent) or calling the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_above_5_gib_is_refused_up_front() {
    let _g = light().await;
    let (up, gw) = setup("huge").await;
    let c = gw.client();
    let declared = 5 * 1024 * 1024 * 1024 + 1;
    let put = c
        .put_object()
        .bucket("huge")
        .key("k")
        .content_length(declared)
        .body(ByteStream::from(vec![b'x'; 1024]))
        .send();
    let err = tokio::time::timeout(Duration::from_secs(10), put)
        .await
        .expect("refused without waiting for the declared body")
        .expect_err("a 5 GiB + 1 PUT must be refused");
    let (status, code, _) = err_parts(&err);
    assert_eq!((status, code.as_str()), (400, "EntityTooLarge"));
    assert_eq!(up.get("huge", "k").await, None);

    let upload = c
        .create_multipart_upload()
        .bucket("huge")
        .key("m")
        .send()
        .await
        .expect("create multipart upload");
    let part = c
        .upload_part()
        .bucket("huge")
        .key("m")
        .upload_id(upload.upload_id().expect("upload id"))
        .part_number(1)
        .content_length(declared)
        .body(ByteStream::from(vec![b'x'; 1024]))
        .send();
    let err = tokio::time::timeout(Duration::from_secs(10), part)
        .await
        .expect("refused without waiting for the declared body")
        .expect_err("a 5 GiB + 1 part must be refused");
    let (status, code, _) = err_parts(&err);
    assert_eq!((status, code.as_str()), (400, "EntityTooLarge"));
}

// ---------------------------------------------------------------------------------------------
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
