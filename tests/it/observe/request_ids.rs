//! rebucket's request ids: every answer carries its own `x-amz-request-id` (and
//! `x-amz-id-2`), an S3 error body's `<RequestId>` is that id (also when the error is the
//! upstream's, whose own id goes to the log line), and the request's log line carries the same
//! id — for a success, an S3 error and an upstream failure.

use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::primitives::ByteStream;

use super::LogCapture;
use crate::common::*;

/// The `x-amz-request-id` and error body of a failed SDK call.
fn error_id_and_body<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> (String, String) {
    let raw = e.raw_response().expect("an HTTP answer");
    let id = raw
        .headers()
        .get("x-amz-request-id")
        .expect("x-amz-request-id")
        .to_owned();
    assert!(raw.headers().get("x-amz-id-2").is_some());
    let body = raw
        .body()
        .bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    (id, body)
}

fn is_ours(id: &str) {
    assert_eq!(id.len(), 16, "{id}");
    assert!(id.bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_and_an_s3_error_carry_the_id_of_their_log_line() {
    let _g = light().await;
    let logs = LogCapture::start();
    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket("ids").await;
    let gw = TestGateway::start(GwOpts::upstream(&up)).await;
    let c = gw.client();

    let put = c
        .put_object()
        .bucket("ids")
        .key("k")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .expect("put");
    let id = put.request_id().expect("x-amz-request-id").to_owned();
    is_ours(&id);
    let line = logs.line(&id).await;
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["operation"], "PutObject");
    assert_eq!(line["bucket"], "ids");
    assert_eq!(line["key"], "k");
    assert_eq!(line["user"], FRONT_AK);
    assert_eq!(line["bytes_in"], 5);
    assert!(line["upstream_ms"].is_number(), "{line}");
    assert!(!line.to_string().contains(FRONT_SK));

    // The upstream's S3 error, passed on with rebucket's id in header and body.
    let e = c
        .get_object()
        .bucket("ids")
        .key("missing")
        .send()
        .await
        .expect_err("missing key");
    let (id, body) = error_id_and_body(&e);
    is_ours(&id);
    assert_eq!(xml_element(body.as_bytes(), "RequestId"), id, "{body}");
    assert_eq!(xml_code(body.as_bytes()), "NoSuchKey");
    let line = logs.line(&id).await;
    assert_eq!(line["status"], 404, "{line}");
    assert_eq!(line["error_code"], "NoSuchKey");
    assert_eq!(line["operation"], "GetObject");

    // An error s3s answers itself (no signature), before any operation.
    let (status, headers, body) =
        http_call("GET", &format!("{}/ids/k", gw.endpoint()), &[], Vec::new()).await;
    assert_eq!(status, 403);
    let id = headers["x-amz-request-id"].to_str().unwrap().to_owned();
    is_ours(&id);
    assert_eq!(xml_element(&body, "RequestId"), id);
    let line = logs.line(&id).await;
    assert_eq!(line["status"], 403, "{line}");
    assert_eq!(line["error_code"], "AccessDenied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_failure_keeps_our_id_and_logs_the_upstreams() {
    let _g = light().await;
    let logs = LogCapture::start();
    let canned = CannedUpstream::start(|method, _| {
        if method == "HEAD" {
            return Canned::new(200).header("x-amz-bucket-region", "us-east-1");
        }
        Canned::new(500)
            .header("x-amz-request-id", "UPSTREAMID0001")
            .header("content-type", "application/xml")
            .body(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code>\
                 <Message>We encountered an internal error.</Message>\
                 <RequestId>UPSTREAMID0001</RequestId></Error>",
            )
    })
    .await;
    let gw = canned.gateway().await;
    let e = gw
        .client()
        .get_object()
        .bucket("failing")
        .key("k")
        .send()
        .await
        .expect_err("upstream 500");
    let (id, body) = error_id_and_body(&e);
    is_ours(&id);
    assert_eq!(xml_element(body.as_bytes(), "RequestId"), id, "{body}");
    assert!(!body.contains("UPSTREAMID0001"), "{body}");
    let line = logs.line(&id).await;
    assert_eq!(line["status"], 500, "{line}");
    assert_eq!(line["upstream_request_id"], "UPSTREAMID0001");

    // An upstream that cannot be reached at all: 503, with our id.
    let dead = closed_endpoint().await;
    let gw = TestGateway::start(GwOpts {
        s3_endpoint: Some(dead),
        aws_keys: Some((KEYS_A.0.into(), KEYS_A.1.into())),
        ..GwOpts::default()
    })
    .await;
    let e = gw
        .client()
        .put_object()
        .bucket("down")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("dead upstream");
    let (id, body) = error_id_and_body(&e);
    is_ours(&id);
    assert_eq!(xml_element(body.as_bytes(), "RequestId"), id, "{body}");
    let line = logs.line(&id).await;
    assert_eq!(line["status"], 503, "{line}");
    assert_eq!(line["error_code"], "ServiceUnavailable");
}
