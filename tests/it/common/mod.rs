//! Shared harness of the integration tests: s3s-fs upstreams on loopback (they check
//! signatures, so they prove which keys signed), a gateway started in-process, S3 clients for
//! the front and the upstreams, an admin API helper, memory probes and the big test file.
#![allow(dead_code)]

mod gateway;
mod http;
mod memory;
pub mod moto;
mod upstream;

pub use gateway::*;
pub use http::*;
pub use memory::*;
pub use upstream::*;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::retry::RetryConfig;
use md5::{Digest, Md5};

pub const FRONT_AK: &str = "RBTESTFRONTACCESS001";
pub const FRONT_SK: &str = "frontSecretKey0123456789abcdefghijklmnopq";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// Upstream key pairs. The secrets are long and distinctive so a leak is easy to scan for.
pub const KEYS_A: (&str, &str) = (
    "AKIAUPSTREAMAAAAAAAA",
    "upstreamSecretA0123456789abcdefghijklmnop",
);
pub const KEYS_B: (&str, &str) = (
    "AKIAUPSTREAMBBBBBBBB",
    "upstreamSecretB0123456789abcdefghijklmnop",
);
pub const KEYS_C: (&str, &str) = (
    "AKIAUPSTREAMCCCCCCCC",
    "upstreamSecretC0123456789abcdefghijklmnop",
);

pub const MIB: u64 = 1024 * 1024;

// Serialization: memory measurements need the process to themselves. All the integration tests
// share one process, so every test takes one of these guards first: [`heavy`] if it measures
// memory, [`light`] (or [`light_blocking`] outside async code) otherwise.

static SERIAL: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Taken by ordinary tests: they run concurrently with each other.
pub async fn light() -> tokio::sync::RwLockReadGuard<'static, ()> {
    SERIAL.read().await
}

/// [`light`] for a test that is not async (it must not run inside a tokio runtime).
pub fn light_blocking() -> tokio::sync::RwLockReadGuard<'static, ()> {
    SERIAL.blocking_read()
}

/// Taken by tests that measure memory: they run alone in the test binary.
pub async fn heavy() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    SERIAL.write().await
}

/// [`heavy`] for a test that is not async; also taken by tests that load both cores for long
/// (the fuzz suites), so that the tests bounded in time never run beside them.
pub fn heavy_blocking() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    SERIAL.blocking_write()
}

/// An S3 client for `endpoint`: path-style, us-east-1, no retries (a failure must show).
pub fn s3_client(endpoint: &str, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(
            access_key, secret_key, None, None, "itests",
        ))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// HTTP status, error code and message of a failed SDK call.
pub fn err_parts<E, R>(e: &SdkError<E, R>) -> (u16, String, String)
where
    E: ProvideErrorMetadata,
    R: RawStatus,
{
    let status = e.raw_response().map(RawStatus::status_u16).unwrap_or(0);
    (
        status,
        e.code().unwrap_or("").to_owned(),
        e.message().unwrap_or("").to_owned(),
    )
}

/// The status of a raw SDK response.
pub trait RawStatus {
    fn status_u16(&self) -> u16;
}

impl RawStatus for aws_smithy_runtime_api::http::Response {
    fn status_u16(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Reads a whole body.
pub async fn collect(body: ByteStream) -> Vec<u8> {
    body.collect()
        .await
        .expect("read body")
        .into_bytes()
        .to_vec()
}

/// Reads a body chunk by chunk, returning (MD5 hex, length, largest chunk).
pub async fn md5_stream(mut body: ByteStream) -> (String, u64, usize) {
    let mut h = Md5::new();
    let mut len = 0u64;
    let mut largest = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("read body chunk");
        largest = largest.max(chunk.len());
        len += chunk.len() as u64;
        h.update(&chunk);
    }
    (hex(&h.finalize()), len, largest)
}

pub fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}
