//! The S3 front end to end: every test drives a real gateway with aws-sdk-s3 against an s3s-fs
//! upstream that checks signatures.

mod auth;
mod lean;
mod objects;
mod transfers;
mod upstream_errors;

use crate::common::*;

/// An upstream with one bucket and a gateway in front of it (S3_ENDPOINT + env keys).
async fn setup(bucket: &str) -> (Upstream, TestGateway) {
    let up = Upstream::start(&[KEYS_A]).await;
    up.create_bucket(bucket).await;
    let gw = TestGateway::start(GwOpts::upstream(&up)).await;
    (up, gw)
}
