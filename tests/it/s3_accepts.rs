//! Every request S3 accepts is accepted through rebucket, and bad input gets S3's answer: keys
//! of every printable ASCII character and with leading or trailing spaces (differential: what
//! the upstream accepts directly, rebucket accepts), a SigV4 request dated by its signed `Date`
//! header, an empty `Content-MD5`, a POST form whose policy's `expiration` is malformed.

use aws_sdk_s3::primitives::ByteStream;

use crate::common::*;

/// What one key does through a client: PUT, GET, HEAD, DELETE, a multipart upload and a copy.
async fn key_round_trip(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(), String> {
    let body = format!("body of {key:?}");
    let fail = |op: &str, e: String| format!("{op} {key:?}: {e}");
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.clone().into_bytes()))
        .send()
        .await
        .map_err(|e| fail("PutObject", format!("{:?}", err_parts(&e))))?;
    let got = c
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| fail("GetObject", format!("{:?}", err_parts(&e))))?;
    let bytes = collect(got.body).await;
    if bytes != body.as_bytes() {
        return Err(fail("GetObject", "another body".into()));
    }
    c.head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| fail("HeadObject", format!("{:?}", err_parts(&e))))?;
    let copy = format!("copy/{key}");
    c.copy_object()
        .bucket(bucket)
        .key(&copy)
        .copy_source(format!(
            "{bucket}/{}",
            percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
        ))
        .send()
        .await
        .map_err(|e| fail("CopyObject", format!("{:?}", err_parts(&e))))?;
    let mp = c
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| fail("CreateMultipartUpload", format!("{:?}", err_parts(&e))))?;
    let id = mp.upload_id().unwrap_or_default().to_owned();
    let part = c
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(body.clone().into_bytes()))
        .send()
        .await
        .map_err(|e| fail("UploadPart", format!("{:?}", err_parts(&e))))?;
    c.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map_err(|e| fail("CompleteMultipartUpload", format!("{:?}", err_parts(&e))))?;
    for k in [key, copy.as_str()] {
        c.delete_object()
            .bucket(bucket)
            .key(k)
            .send()
            .await
            .map_err(|e| fail("DeleteObject", format!("{:?}", err_parts(&e))))?;
    }
    Ok(())
}

/// Keys S3 accepts: every printable ASCII character alone, and keys with leading or trailing
/// spaces ([Object key naming](https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html)).
fn odd_keys() -> Vec<String> {
    let mut keys: Vec<String> = (0x20u8..0x7f).map(|b| (b as char).to_string()).collect();
    keys.extend(
        [" lead", "trail ", " both ", "  ", "a b", "dir/ x", "dir/x "]
            .iter()
            .map(|k| (*k).to_owned()),
    );
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_the_upstream_accepts_works_through_rebucket() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket("keys").await;
    let gw = TestGateway::start(GwOpts::upstream(&up)).await;
    let (direct, front) = (up.client(), gw.client());
    let mut failures = Vec::new();
    for key in odd_keys() {
        // Differential: a key the upstream itself refuses says nothing about rebucket.
        if let Err(e) = key_round_trip(&direct, "keys", &key).await {
            eprintln!("upstream refuses {key:?} directly: {e}");
            continue;
        }
        if let Err(e) = key_round_trip(&front, "keys", &key).await {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn sha256_hex(data: &[u8]) -> String {
    let mut h = aws_smithy_checksums::ChecksumAlgorithm::Sha256.into_impl();
    h.update(data);
    hex::encode(h.finalize())
}

/// A SigV4 `Authorization` header signed by hand over `headers` (names lowercase, the
/// payload's SHA-256 in `x-amz-content-sha256`), dated by `iso` (`YYYYMMDDTHHMMSSZ`).
fn sigv4_authorization(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    iso: &str,
    when: std::time::SystemTime,
    payload_hash: &str,
) -> String {
    sigv4_authorization_with(
        (FRONT_AK, FRONT_SK),
        method,
        path,
        "",
        headers,
        (iso, when),
        payload_hash,
    )
}

/// [`sigv4_authorization`] with a canonical query string and another key pair.
fn sigv4_authorization_with(
    (ak, sk): (&str, &str),
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    (iso, when): (&str, std::time::SystemTime),
    payload_hash: &str,
) -> String {
    let mut signed: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    signed.sort();
    let names = signed
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let canonical =
        format!("{method}\n{path}\n{query}\n{canonical_headers}\n{names}\n{payload_hash}");
    let scope = format!("{}/us-east-1/s3/aws4_request", &iso[..8]);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{iso}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let key = aws_sigv4::sign::v4::generate_signing_key(sk, when, "us-east-1", "s3");
    let sig = aws_sigv4::sign::v4::calculate_signature(key, to_sign.as_bytes());
    format!("AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={names}, Signature={sig}")
}

/// HTTP date (RFC 1123) and ISO basic date of now.
fn dates() -> (std::time::SystemTime, String, String) {
    let now = std::time::SystemTime::now();
    let http = httpdate_of(now);
    let iso = aws_smithy_types::DateTime::from(now)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .expect("date");
    // 2026-12-02T04:05:06Z or with fraction → 20261202T040506Z
    let iso: String = iso
        .split('.')
        .next()
        .unwrap()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect::<String>()
        + "Z";
    (now, http, iso)
}

fn httpdate_of(t: std::time::SystemTime) -> String {
    aws_smithy_types::DateTime::from(t)
        .fmt(aws_smithy_types::date_time::Format::HttpDate)
        .expect("http date")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigv4_request_dated_by_its_signed_date_header_is_accepted() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket("dated").await;
    let gw = TestGateway::start(GwOpts::upstream(&up)).await;
    let (when, http_date, iso) = dates();
    let body = b"dated by Date".to_vec();
    let hash = sha256_hex(&body);
    let host = gw.s3_addr().to_string();
    let signed = vec![
        ("host".to_owned(), host.clone()),
        ("date".to_owned(), http_date.clone()),
        ("x-amz-content-sha256".to_owned(), hash.clone()),
    ];
    let auth = sigv4_authorization("PUT", "/dated/k", &signed, &iso, when, &hash);
    let mut headers = signed.clone();
    headers.push(("authorization".into(), auth));
    let url = format!("{}/dated/k", gw.endpoint());
    let (status, _, answer) = http_call("PUT", &url, &headers, body.clone()).await;
    assert_eq!(
        status,
        200,
        "PUT dated by Date: {}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(up.get("dated", "k").await.as_deref(), Some(&body[..]));

    // x-amz-date wins over Date when both are there (and signed).
    let mut signed = signed;
    signed.push(("x-amz-date".into(), iso.clone()));
    signed[1].1 = "Thu, 01 Jan 2015 00:00:00 GMT".into();
    let auth = sigv4_authorization("PUT", "/dated/k", &signed, &iso, when, &hash);
    let mut headers = signed;
    headers.push(("authorization".into(), auth));
    let (status, _, answer) = http_call("PUT", &url, &headers, body).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));

    // A wrong signature over a Date header is still refused.
    let signed = vec![
        ("host".to_owned(), host),
        ("date".to_owned(), http_date),
        ("x-amz-content-sha256".to_owned(), hash.clone()),
    ];
    let auth = sigv4_authorization("PUT", "/dated/other", &signed, &iso, when, &hash);
    let mut headers = signed;
    headers.push(("authorization".into(), auth));
    let (status, _, answer) = http_call("PUT", &url, &headers, b"x".to_vec()).await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(xml_code(&answer), "SignatureDoesNotMatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_content_md5_is_invalid_digest() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket("digest").await;
    let gw = TestGateway::start(GwOpts::upstream(&up)).await;
    let err = gw
        .client()
        .put_object()
        .bucket("digest")
        .key("k")
        .content_md5("")
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .expect_err("an empty Content-MD5 is refused");
    let (status, code, _) = err_parts(&err);
    assert_eq!((status, code.as_str()), (400, "InvalidDigest"));
    assert_eq!(up.get("digest", "k").await, None, "nothing was stored");
    gw.client()
        .put_object()
        .bucket("digest")
        .key("k")
        .content_md5("jXd/OF09/siBXSD3SWAm3A==")
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .expect("a right Content-MD5 is accepted");
}

/// S3's URI encoding of a key in a path: everything but unreserved characters and `/`.
fn encode_key(key: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(key, SET).to_string()
}

/// One SigV4-signed request to `endpoint` (`query` already canonical: sorted, encoded).
async fn signed_call(
    endpoint: &str,
    keys: (&str, &str),
    method: &str,
    path: &str,
    query: &str,
    extra: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, http::HeaderMap, bytes::Bytes) {
    let (when, _, iso) = dates();
    let hash = sha256_hex(&body);
    let host = endpoint.trim_start_matches("http://").to_owned();
    let mut headers = vec![
        ("host".to_owned(), host),
        ("x-amz-date".to_owned(), iso.clone()),
        ("x-amz-content-sha256".to_owned(), hash.clone()),
    ];
    headers.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let auth = sigv4_authorization_with(keys, method, path, query, &headers, (&iso, when), &hash);
    headers.push(("authorization".into(), auth));
    let url = if query.is_empty() {
        format!("{endpoint}{path}")
    } else {
        format!("{endpoint}{path}?{query}")
    };
    http_call(method, &url, &headers, body).await
}

/// PUT, GET, HEAD, CopyObject (to and from the key), a multipart upload and DELETE of `key`,
/// in raw signed requests (the Rust SDK refuses to send a key of only white space).
async fn raw_key_round_trip(endpoint: &str, keys: (&str, &str), key: &str) -> Result<(), String> {
    let path = format!("/rawkeys/{}", encode_key(key));
    let body = format!("body of {key:?}").into_bytes();
    let check = |op: &str, want: u16, got: &(u16, http::HeaderMap, bytes::Bytes)| {
        if got.0 == want {
            Ok(())
        } else {
            Err(format!(
                "{op} {key:?}: {} {}",
                got.0,
                String::from_utf8_lossy(&got.2)
            ))
        }
    };
    let call = |method: &'static str,
                path: String,
                query: String,
                extra: Vec<(&'static str, String)>,
                body: Vec<u8>| async move {
        signed_call(endpoint, keys, method, &path, &query, &extra, body).await
    };
    let put = call("PUT", path.clone(), String::new(), vec![], body.clone()).await;
    check("PutObject", 200, &put)?;
    let get = call("GET", path.clone(), String::new(), vec![], vec![]).await;
    check("GetObject", 200, &get)?;
    if get.2 != body {
        return Err(format!("GetObject {key:?}: another body"));
    }
    check(
        "HeadObject",
        200,
        &call("HEAD", path.clone(), String::new(), vec![], vec![]).await,
    )?;
    let copy_source = format!("/rawkeys/{}", encode_key(key));
    check(
        "CopyObject from the key",
        200,
        &call(
            "PUT",
            "/rawkeys/copied".into(),
            String::new(),
            vec![("x-amz-copy-source", copy_source)],
            vec![],
        )
        .await,
    )?;
    check(
        "CopyObject to the key",
        200,
        &call(
            "PUT",
            path.clone(),
            String::new(),
            vec![("x-amz-copy-source", "/rawkeys/copied".into())],
            vec![],
        )
        .await,
    )?;
    let created = call("POST", path.clone(), "uploads=".into(), vec![], vec![]).await;
    check("CreateMultipartUpload", 200, &created)?;
    let id = xml_element(&created.2, "UploadId");
    let id_q = encode_key(&id).replace('/', "%2F");
    let part = call(
        "PUT",
        path.clone(),
        format!("partNumber=1&uploadId={id_q}"),
        vec![],
        body.clone(),
    )
    .await;
    check("UploadPart", 200, &part)?;
    let etag = part
        .1
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let complete = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let done = call(
        "POST",
        path.clone(),
        format!("uploadId={id_q}"),
        vec![],
        complete.into_bytes(),
    )
    .await;
    check("CompleteMultipartUpload", 200, &done)?;
    for p in [path.clone(), "/rawkeys/copied".into()] {
        check(
            "DeleteObject",
            204,
            &call("DELETE", p, String::new(), vec![], vec![]).await,
        )?;
    }
    let gone = call("HEAD", path, String::new(), vec![], vec![]).await;
    check("HeadObject after DeleteObject", 404, &gone)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_only_white_space_work_through_rebucket() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket("rawkeys").await;
    let gw = TestGateway::start(GwOpts::upstream(&up)).await;
    let mut failures = Vec::new();
    for key in [" ", "  ", "\t", " \u{3000} "] {
        if let Err(e) = raw_key_round_trip(&up.endpoint, KEYS_A, key).await {
            eprintln!("upstream refuses {key:?} directly: {e}");
            continue;
        }
        if let Err(e) = raw_key_round_trip(&gw.endpoint(), (FRONT_AK, FRONT_SK), key).await {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A POST form signed with the front's keys (SigV4), its policy's `expiration` as given.
pub(crate) fn signed_form(bucket: &str, key: &str, expiration: &str) -> (String, Vec<u8>) {
    let (when, _, iso) = dates();
    let credential = format!("{FRONT_AK}/{}/us-east-1/s3/aws4_request", &iso[..8]);
    let policy = serde_json::json!({
        "expiration": expiration,
        "conditions": [
            {"bucket": bucket},
            ["starts-with", "$key", ""],
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-credential": credential},
            {"x-amz-date": iso},
        ]
    })
    .to_string();
    let policy = aws_smithy_types::base64::encode(policy);
    let signing_key = aws_sigv4::sign::v4::generate_signing_key(FRONT_SK, when, "us-east-1", "s3");
    let signature = aws_sigv4::sign::v4::calculate_signature(signing_key, policy.as_bytes());
    let boundary = "----rebucketsignedform";
    let mut body = String::new();
    for (name, value) in [
        ("key", key),
        ("policy", &policy),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        ("x-amz-credential", &credential),
        ("x-amz-date", &iso),
        ("x-amz-signature", &signature),
    ] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nform file\r\n--{boundary}--\r\n"
    ));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

/// A POST form's policy names its `expiration` in ISO 8601 UTC
/// ([Creating a POST policy](https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html));
/// any other value is `400 InvalidPolicyDocument` — also the RFC 3339 forms s3s alone takes (a
/// space for `T`, lowercase `t`/`z`, a `+00:00` offset) —, a well-formed one uploads (204).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_policy_expiration_must_be_a_date() {
    let _g = light().await;
    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket("forms").await;
    let gw = TestGateway::start(GwOpts::upstream(&up)).await;
    let url = format!("{}/forms", gw.endpoint());
    let post = |expiration: String| {
        let url = url.clone();
        async move {
            let (content_type, body) = signed_form("forms", "posted", &expiration);
            let headers = vec![("content-type".to_owned(), content_type)];
            http_call("POST", &url, &headers, body).await
        }
    };
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    let later = aws_smithy_types::DateTime::from(later)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap();
    let (date, time) = later.split_once('T').unwrap();
    let time = time.trim_end_matches('Z').split('.').next().unwrap();
    for malformed in [
        format!("{date} {time}.123456"),
        format!("{date} {time}Z"),
        format!("{date} {time}.123456+00:00"),
        format!("{date}T{time}+00:00"),
        format!("{date}t{time}z"),
        format!("{date}T{time}"),
        "not-a-date".to_owned(),
    ] {
        let (status, _, answer) = post(malformed.clone()).await;
        assert_eq!(
            (status, xml_code(&answer).as_str()),
            (400, "InvalidPolicyDocument"),
            "{malformed:?}"
        );
    }
    for good in [format!("{date}T{time}.000Z"), format!("{date}T{time}Z")] {
        let (status, _, answer) = post(good.clone()).await;
        assert_eq!(
            status,
            204,
            "{good:?}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
}
