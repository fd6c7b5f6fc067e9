//! Per-bucket routing: two s3s-fs upstreams with different keys, bucket properties set through
//! the admin API, and proof of which upstream got each request and which keys signed it.
//! Buckets on B sign with profile `pb` (B accepts only B's keys).

mod admin;
mod aliases;
mod cross_upstream;
mod failures;
mod props;
mod visible;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use serde_json::{Value, json};

use crate::common::*;

struct World {
    a: Upstream,
    b: Upstream,
    gw: TestGateway,
}

impl World {
    /// Props that route a bucket to B, signed with B's profile.
    fn to_b(&self) -> Value {
        json!({"extra.aws.endpoint": self.b.endpoint, "extra.aws.profile": "pb"})
    }

    /// Props that route a bucket to A explicitly, signed with A's profile.
    fn to_a(&self) -> Value {
        json!({"extra.aws.endpoint": self.a.endpoint, "extra.aws.profile": "pa"})
    }

    async fn both_have(&self, bucket: &str) {
        self.a.create_bucket(bucket).await;
        self.b.create_bucket(bucket).await;
    }
}

fn credentials_file() -> String {
    let mut s = String::new();
    for (name, (ak, sk)) in [("pa", KEYS_A), ("pb", KEYS_B), ("pc", KEYS_C)] {
        s.push_str(&format!(
            "[{name}]\naws_access_key_id = {ak}\naws_secret_access_key = {sk}\n\n"
        ));
    }
    s
}

fn config_file() -> String {
    ["pa", "pb", "pc"]
        .iter()
        .map(|p| format!("[profile {p}]\nregion = us-east-1\n\n"))
        .collect()
}

/// Upstreams A and B, and a gateway whose default is A (S3_ENDPOINT + A's keys in the env).
async fn world() -> World {
    let a = Upstream::start(&[KEYS_A]).await;
    let b = Upstream::start(&[KEYS_B]).await;
    let gw = TestGateway::start(GwOpts {
        aws_config: Some(config_file()),
        aws_credentials: Some(credentials_file()),
        ..GwOpts::upstream(&a)
    })
    .await;
    World { a, b, gw }
}

fn clear() -> Value {
    json!({"extra.aws.endpoint": "", "extra.aws.profile": ""})
}

/// GET through `c`: the body as text, or (status, code, message).
async fn get_text(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<String, (u16, String, String)> {
    match c.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(String::from_utf8(collect(out.body).await).expect("utf-8")),
        Err(e) => Err(err_parts(&e)),
    }
}

async fn put_text(c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {bucket}/{key} through the gateway: {e:?}"));
}
