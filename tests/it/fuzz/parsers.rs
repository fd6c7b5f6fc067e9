//! The operator-facing parsers with arbitrary text: bucket property names and values
//! (`PropKey`, `BucketName`, `Endpoint`, `Region`, `ProfileName`, `normalize_bucket_arg`), the
//! property model (`BucketProps::set`), the registry file, and the config file checker behind
//! `rebucket config check`. Each gives `Ok` or `Err`, never a panic; a value it accepts is in
//! normalized form (parsing it again gives it back).

use std::fmt::Display;
use std::str::FromStr;

use proptest::prelude::*;
use rebucket::cli::config_cmd::{check_text, render};
use rebucket::registry::{
    BucketName, BucketProps, Endpoint, EndpointPolicy, ProfileName, PropKey, REGISTRY_FILE, Region,
    Registry, normalize_bucket_arg,
};

use super::config;
use crate::common::*;

/// Text shaped like property values: schemes, hosts, ports, brackets, dots and the
/// characters that separate them, and anything else.
fn value_text() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "http",
        "https",
        "HTTP",
        "s3",
        "://",
        ":",
        "//",
        "/",
        "?",
        "#",
        "@",
        "[",
        "]",
        "::1",
        "127.0.0.1",
        "fe80::1",
        "localhost",
        "a",
        "B",
        "-",
        ".",
        "..",
        "_",
        "%",
        "%2F",
        "0",
        "65535",
        "65536",
        "99999999999",
        "us-east-1",
        "xn--",
        "é",
        " ",
        "\t",
        "\u{0}",
        "\u{feff}",
        "\u{202e}",
    ]);
    prop_oneof![
        3 => prop::collection::vec(token, 0..16).prop_map(|t| t.concat()),
        2 => ".{0,80}",
        1 => "[a-z0-9.-]{0,70}",
        1 => "\\PC{0,3000}",
    ]
}

/// `T::from_str(text)` never panics, and what it accepts reads back unchanged.
fn round_trips<T>(text: &str) -> Result<(), TestCaseError>
where
    T: FromStr + Display + PartialEq + std::fmt::Debug,
    T::Err: std::fmt::Debug,
{
    if let Ok(v) = text.parse::<T>() {
        let shown = v.to_string();
        let again = shown.parse::<T>();
        prop_assert!(
            again.as_ref().is_ok_and(|a| *a == v),
            "{text:?} -> {shown:?} -> {again:?}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(16, file!()))]

    #[test]
    fn property_values_parse_or_refuse_and_what_they_accept_is_normalized(text in value_text()) {
        let _g = light_blocking();
        round_trips::<BucketName>(&text)?;
        round_trips::<Endpoint>(&text)?;
        round_trips::<Region>(&text)?;
        round_trips::<ProfileName>(&text)?;
        round_trips::<PropKey>(&text)?;
        if let Ok(b) = normalize_bucket_arg(&text) {
            prop_assert_eq!(normalize_bucket_arg(&b).ok(), Some(b.clone()));
        }
    }

    #[test]
    fn setting_any_property_to_any_text_validates_or_changes_nothing(
        key in prop::sample::select(PropKey::ALL.to_vec()),
        first in value_text(),
        second in value_text(),
        allow in prop::collection::vec("[a-z0-9.:]{0,20}", 0..3),
    ) {
        let _g = light_blocking();
        let policy = EndpointPolicy { allowlist: Some(allow) };
        let mut props = BucketProps::default();
        let _ = props.set(key, &first, &EndpointPolicy::default());
        let before = props.clone();
        match props.set(key, &second, &policy) {
            Ok(_) => {
                // What was stored reads back from the registry file's form.
                let text = serde_json::to_string(&props).unwrap();
                let back: Result<BucketProps, _> = serde_json::from_str(&text);
                prop_assert_eq!(back.ok(), Some(props.clone()), "{}", text);
            }
            Err(_) => prop_assert_eq!(&props, &before),
        }
    }

    #[test]
    fn a_registry_file_of_any_text_loads_or_is_refused(
        text in prop_oneof![
            value_text(),
            (value_text(), value_text(), prop::sample::select(vec![
                "backend_bck", "profile", "endpoint", "cloud_region", "addressing_style", "x",
            ])).prop_map(|(b, v, k)| {
                let props = serde_json::Map::from_iter([(k.to_owned(), serde_json::Value::from(v))]);
                let buckets = serde_json::Map::from_iter([(b, serde_json::Value::Object(props))]);
                serde_json::json!({"version": 1, "buckets": buckets}).to_string()
            }),
            Just("{\"buckets\":".repeat(3000)),
        ],
    ) {
        let _g = light_blocking();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(REGISTRY_FILE), &text).unwrap();
        if let Ok(registry) = Registry::open(dir.path()) {
            let _ = registry.snapshot();
        }
    }

    #[test]
    fn config_check_of_any_text_reports_findings_never_panics(
        text in prop_oneof![
            ".{0,300}",
            prop::collection::vec(prop::sample::select(vec![
                "allow_anonymous = true\n", "domains = [\"\"]\n", "domains = [\"a/b\"]\n",
                "[[users]]\n", "access_key = \"\"\n", "secret_key = \" \"\n",
                "access_key = \"k\"\nsecret_key = \"s\"\n", "endpoint_allowlist = []\n",
                "endpoint_allowlist = [\"h:1\", \"/\"]\n", "connect_timeout_ms = 0\n",
                "post_object_max_bytes = 0\n", "admin_token_file = \"/nonexistent\"\n",
                "admin_token_file = \"\"\n", "max_connections = -1\n",
                "max_headers = 99999999999999999999\n", "x = \u{1F600}\n", "\u{feff}", "\r\n",
                "= \n", "[", "\"", "é", "\t", "#", "'''", "\n",
            ]), 0..20).prop_map(|t| t.concat()),
        ],
    ) {
        let _g = light_blocking();
        let report = check_text(&text);
        for f in report.errors.iter().chain(&report.warnings) {
            let line = render("rebucket.toml", &text, "error", f);
            prop_assert!(line.starts_with("rebucket.toml"), "{}", line);
        }
    }
}
