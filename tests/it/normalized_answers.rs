//! Normalized answers of S3-compatible servers, end to end through an upstream client: the
//! interceptor names the operations by their real SDK names, and the SDK then reads answers it
//! would refuse as they came (a wrapped GetBucketLocation, an empty ETag in a chunked listing, a
//! misnamed CreateMultipartUpload root).

use rebucket::profiles::CredentialSource;
use rebucket::upstream::{PoolSettings, UpstreamKey, UpstreamPool};

use crate::common::*;

/// Answers every request whose request line (`METHOD target`) contains a key of the table with
/// its XML (the first that matches), chunked.
fn answer(method: &str, target: &str) -> Canned {
    const ANSWERS: &[(&str, &str)] = &[
        (
            "?location",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CreateBucketConfiguration><LocationConstraint></LocationConstraint></CreateBucketConfiguration>",
        ),
        (
            "GET /b",
            "<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated><Contents><Key>k</Key><ETag></ETag><Size>1</Size></Contents></ListBucketResult>",
        ),
        (
            "?uploads",
            "<InitiateMultipartUpload><Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId></InitiateMultipartUpload>",
        ),
    ];
    let line = format!("{method} {target}");
    let body = ANSWERS
        .iter()
        .find(|(k, _)| line.contains(k))
        .map_or("", |(_, v)| *v);
    Canned::new(200)
        .header("content-type", "application/xml")
        .body(body)
        .chunked()
}

/// An upstream client of rebucket's pool (its interceptors and normalizing connector) for
/// `upstream`, unsigned.
fn client_of(upstream: &CannedUpstream) -> aws_sdk_s3::Client {
    let pool = UpstreamPool::new(PoolSettings::default());
    pool.client(&UpstreamKey {
        endpoint: Some(upstream.endpoint.clone()),
        region: "us-east-1".into(),
        path_style: true,
        credentials: CredentialSource::Anonymous,
    })
}

#[tokio::test]
async fn upstream_clients_read_normalized_answers() {
    let _g = light().await;
    let upstream = CannedUpstream::start(answer).await;
    let client = client_of(&upstream);
    let loc = client.get_bucket_location().bucket("b").send().await;
    let loc = loc.expect("location read");
    // S3's us-east-1 answer, `<LocationConstraint/>`, reads the same way.
    assert_eq!(loc.location_constraint().map(|c| c.as_str()), Some(""));
    let list = client
        .list_objects()
        .bucket("b")
        .send()
        .await
        .expect("listing read");
    assert_eq!(list.contents()[0].e_tag(), Some("\"\""));
    let up = client
        .create_multipart_upload()
        .bucket("b")
        .key("k")
        .send()
        .await;
    assert_eq!(up.expect("initiate read").upload_id(), Some("u"));
}

/// A listing answer one byte over what rebucket reads whole to normalize.
fn oversized(_method: &str, _target: &str) -> Canned {
    let head = "<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated><Prefix>";
    let tail = "</Prefix></ListBucketResult>";
    let pad = rebucket::upstream::compat::MAX_NORMALIZED_BYTES + 1 - head.len() - tail.len();
    let mut xml = String::with_capacity(head.len() + pad + tail.len());
    xml.push_str(head);
    xml.extend(std::iter::repeat_n('p', pad));
    xml.push_str(tail);
    Canned::new(200)
        .header("content-type", "application/xml")
        .body(xml)
        .chunked()
}

#[tokio::test]
async fn an_answer_too_large_to_normalize_fails_the_call() {
    let _g = light().await;
    let upstream = CannedUpstream::start(oversized).await;
    let client = client_of(&upstream);
    let err = client
        .list_objects()
        .bucket("b")
        .send()
        .await
        .expect_err("an answer over the bound is not read whole");
    let text = format!("{:?}", err);
    assert!(text.contains("length limit"), "{text}");
}
