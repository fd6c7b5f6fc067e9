//! The admin API under generated calls: methods, paths, tokens (right, wrong, none, malformed)
//! and JSON bodies. Every call gets a JSON answer within a bound, `401` without the right
//! token, and no `5xx` but the documented ones (`/readyz` says `503` when not ready); the
//! gateway never panics and goes on serving.

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{Value, json};

use super::{config, exchange, panics_of, runtime};
use crate::common::*;

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec![
            "v1", "buckets", "props", "reload-creds", "profiles", "health", "metrics",
            "healthz", "readyz", "photos", "s3:%2F%2Fphotos", "fuzz", "..", ".", "",
            "%2F", "%00", "v2", "BUCKETS", "a..b", "192.168.0.1", "xn--bucket",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z0-9.-]{1,70}",
        1 => "\\PC{1,10}".prop_map(|s| percent_encoding::utf8_percent_encode(
            &s,
            percent_encoding::NON_ALPHANUMERIC
        ).to_string()),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "/v1/buckets", "/v1/buckets/photos", "/v1/buckets/photos/props", "/v1/profiles",
            "/v1/reload-creds", "/v1/health", "/metrics", "/healthz", "/readyz",
        ])
        .prop_map(str::to_owned),
        2 => prop::collection::vec(segment(), 0..6).prop_map(|s| format!("/{}", s.join("/"))),
    ]
    .prop_flat_map(|p| (Just(p), prop::option::weighted(0.2, "[a-z=&%0-9]{0,20}")))
    .prop_map(|(p, q)| match q {
        Some(q) => format!("{p}?{q}"),
        None => p,
    })
}

/// A property value: valid ones of each kind, and what the parsers must refuse.
fn prop_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "", "pics", "photos", "auto", "path", "virtual", "us-east-1", "eu-west-3",
            "default", "other", "http://127.0.0.1:1", "https://s3.example.test",
            "http://[fe80::1]:9000", "http://[::1]:9000", "ftp://x", "http://user@host",
            "http://h/path", "HTTP://UPPER:80/", "http://h:99999", "s3://photos",
            "Bad_Bucket", "a..b", "xn--x", "192.168.1.1",
        ])
        .prop_map(|s| json!(s)),
        1 => "\\PC{0,40}".prop_map(|s| json!(s)),
        1 => prop_oneof![Just(json!(null)), Just(json!(1)), Just(json!(true)), Just(json!([])),
                         Just(json!({}))],
    ]
}

fn prop_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "backend_bck", "extra.aws.addressing_style", "extra.aws.cloud_region",
            "extra.aws.endpoint", "extra.aws.profile", "extra.aws.", "profile", "",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,20}",
    ]
}

fn body() -> impl Strategy<Value = Option<Vec<u8>>> {
    let props = prop::collection::btree_map(prop_name(), prop_value(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()));
    let doc = (
        props,
        prop::option::of(any::<bool>()),
        prop::collection::vec(prop_name(), 0..3),
        any::<u8>(),
    )
        .prop_map(|(props, force, keys, shape)| match shape % 5 {
            0 => json!({"props": props}),
            1 => json!({"props": props, "force": force}),
            2 => json!({"keys": keys}),
            3 => json!({"props": [props], "force": "yes"}),
            _ => json!(props),
        })
        .prop_map(|v| v.to_string().into_bytes());
    prop_oneof![
        2 => Just(None),
        5 => doc.prop_map(Some),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Some),
        1 => Just(Some(b"{\"props\":".repeat(2000))),
        1 => Just(Some(vec![b' '; 3])),
    ]
}

#[derive(Debug, Clone)]
enum Token {
    Right,
    Wrong,
    None,
    /// Not a `Bearer` header at all.
    Malformed(String),
}

fn token() -> impl Strategy<Value = Token> {
    prop_oneof![
        6 => Just(Token::Right),
        1 => Just(Token::Wrong),
        1 => Just(Token::None),
        1 => prop::sample::select(vec![
            "bearer test-admin-token-0123456789abcdef",
            "Bearer  test-admin-token-0123456789abcdef",
            "Bearer test-admin-token-0123456789abcde",
            "Basic dGVzdA==",
            "Bearer",
            "",
        ])
        .prop_map(|s| Token::Malformed(s.to_owned())),
    ]
}

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "GET", "GET", "PUT", "PUT", "PATCH", "PATCH", "DELETE", "DELETE", "POST", "HEAD",
        "OPTIONS", "TRACE", "FOO",
    ])
}

#[test]
fn generated_admin_calls_get_a_json_answer_never_an_undocumented_server_error() {
    let _g = heavy_blocking();
    let rt = runtime("admin");
    let upstream_rt = super::upstream_runtime();
    let up = upstream_rt.block_on(async {
        let up = Upstream::start(&[KEYS_A]).await;
        up.create_bucket("photos").await;
        up
    });
    let gw = rt.block_on(async {
        TestGateway::start(GwOpts {
            config_toml: Some(
                "header_read_timeout_ms = 1000\nbody_idle_timeout_ms = 1000\n\
                 connect_timeout_ms = 300\nupstream_first_byte_timeout_ms = 2000\n"
                    .into(),
            ),
            ..GwOpts::upstream(&up)
        })
        .await
    });
    let addr = gw.admin_addr();
    let mut runner = TestRunner::new(config(4, file!()));
    let strategy = (method(), path(), token(), body());
    let result = runner.run(&strategy, |(method, path, token, body)| {
        rt.block_on(async {
            let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            match &token {
                Token::Right => req += &format!("Authorization: Bearer {ADMIN_TOKEN}\r\n"),
                Token::Wrong => req += "Authorization: Bearer wrong-token\r\n",
                Token::None => {}
                Token::Malformed(v) => req += &format!("Authorization: {v}\r\n"),
            }
            let body = body.unwrap_or_default();
            req += &format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let mut bytes = req.into_bytes();
            bytes.extend_from_slice(&body);
            let answer = exchange(addr, &bytes).await.map_err(TestCaseError::fail)?;
            let panics = panics_of("admin");
            prop_assert!(panics.is_empty(), "the gateway panicked: {panics:?}");
            let status = answer.status;
            prop_assert!(status.is_some(), "no answer: {}", answer.text());
            let status = status.unwrap_or_default();
            let text = answer.text();
            let body_text = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
            let route = path.split('?').next().unwrap_or_default();
            let probe = ["/metrics", "/healthz", "/readyz"].contains(&route);
            if !probe && method != "HEAD" {
                prop_assert!(
                    serde_json::from_str::<Value>(body_text).is_ok(),
                    "{status} without a JSON body: {text}"
                );
            }
            let health = method == "GET" && route.trim_matches('/') == "v1/health";
            if !matches!(token, Token::Right) && !probe && !health {
                prop_assert!(
                    status == 401 || status == 404,
                    "{status} without the token: {text}"
                );
            }
            let documented = status == 503 && route == "/readyz";
            prop_assert!(status < 500 || documented, "{status}: {text}");
            // Still serving.
            let again = exchange(
                addr,
                b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            )
            .await
            .map_err(TestCaseError::fail)?;
            prop_assert_eq!(again.status, Some(200), "after the call: {}", again.text());
            Ok(())
        })
    });
    drop((gw, up));
    if let Err(e) = result {
        panic!("{e}\n{runner}");
    }
}
