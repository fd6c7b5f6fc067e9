//! Copies between buckets on different upstreams: CopyObject of a large object streams with
//! flat memory, and UploadPartCopy.

use super::*;

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
