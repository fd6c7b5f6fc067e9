//! `backend_bck` aliases: a client bucket name served by another upstream bucket, and answers
//! that give out neither the backend name nor the upstream's address.

use super::*;

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
#[ignore = "needs moto_server (conformance/setup.sh installs it)"]
async fn answers_give_out_neither_the_upstream_address_nor_the_backend_bucket() {
    let _g = light().await;
    let moto = moto::Moto::start();
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
