//! Object transfers through the gateway: streaming large objects with flat memory, multipart
//! uploads, ranges, upload framing, trailing checksums and the 5 GiB limit.

use std::time::{Duration, Instant};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::setup;
use crate::common::*;

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
