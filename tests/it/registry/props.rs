//! Bucket properties: names, validation and normalization, the endpoint allowlist, clearing.

use super::*;

#[test]
fn prop_names_are_the_operator_interface() {
    let _g = light_blocking();
    assert_eq!(
        PropKey::ALL.map(PropKey::as_str),
        [
            "anonymous",
            "backend_bck",
            "extra.aws.addressing_style",
            "extra.aws.cloud_region",
            "extra.aws.endpoint",
            "extra.aws.profile",
            "read_only",
        ]
    );
}

#[test]
fn backend_bck_accepts_plain_and_s3_uri() {
    let _g = light_blocking();
    assert_eq!(stored(BACKEND, "abc"), "abc");
    assert_eq!(stored(BACKEND, "s3://abc"), "abc");
    assert_eq!(stored(BACKEND, "s3://abc/"), "abc");
    assert_eq!(stored(BACKEND, "S3://my.bucket-01"), "my.bucket-01");
    assert_eq!(stored(BACKEND, &"a".repeat(63)), "a".repeat(63));
    assert_eq!(stored(BACKEND, "1.2.3"), "1.2.3");
}

#[test]
fn backend_bck_refuses_invalid_bucket_names() {
    let _g = light_blocking();
    assert_eq!(
        refused(BACKEND, "Abc"),
        "invalid backend_bck \"Abc\": invalid character 'A' in bucket name (expecting lowercase letters, digits, dots and hyphens)"
    );
    assert_eq!(
        refused(BACKEND, "ab"),
        "invalid backend_bck \"ab\": bucket name must be 3 to 63 characters long (got 2)"
    );
    assert!(refused(BACKEND, &"a".repeat(64)).contains("3 to 63 characters long (got 64)"));
    for bad in ["-abc", "abc-", ".abc", "abc."] {
        assert!(
            refused(BACKEND, bad).ends_with("must start and end with a letter or digit"),
            "{bad}"
        );
    }
    assert!(refused(BACKEND, "a_b").contains("invalid character '_'"));
    assert!(refused(BACKEND, "a..b").contains("two adjacent dots"));
    assert!(refused(BACKEND, "192.168.5.4").contains("formatted as an IP address"));
    assert!(refused(BACKEND, "s3://10.0.0.1").contains("formatted as an IP address"));
    assert!(refused(BACKEND, "s3://").contains("empty bucket name"));
    assert!(refused(BACKEND, "s3://abc/obj").contains("not an object path"));
    assert_eq!(
        refused(BACKEND, "gs://abc"),
        "invalid backend_bck \"gs://abc\": unsupported provider \"gs\" (expecting s3:// or a plain bucket name)"
    );
}

#[test]
fn normalize_bucket_arg_strips_s3_scheme_and_validates() {
    let _g = light_blocking();
    assert_eq!(normalize_bucket_arg("abc").unwrap(), "abc");
    assert_eq!(normalize_bucket_arg("s3://abc").unwrap(), "abc");
    assert_eq!(normalize_bucket_arg("s3://abc/").unwrap(), "abc");
    let e = normalize_bucket_arg("s3://AB").unwrap_err();
    assert!(matches!(e, RegistryError::Invalid(_)));
    assert_eq!(
        e.to_string(),
        "invalid bucket \"s3://AB\": bucket name must be 3 to 63 characters long (got 2)"
    );
    assert!(normalize_bucket_arg("ais://abc").is_err());
    assert!(normalize_bucket_arg("").is_err());
    assert!(normalize_bucket_arg("127.0.0.1").is_err());
}

#[test]
fn profile_accepts_identifiers_only() {
    let _g = light_blocking();
    for good in ["default", "prod", "team-a/prod@acct:1+x%y.z_w", "A9"] {
        assert_eq!(stored(PROFILE, good), good);
    }
    assert_eq!(
        refused(PROFILE, "a b"),
        "invalid extra.aws.profile \"a b\": invalid character ' ' (expecting letters, digits and _-/.%@:+)"
    );
    assert!(refused(PROFILE, "a\"b").contains("invalid character '\"'"));
    assert!(refused(PROFILE, "prod]").contains("invalid character ']'"));
    assert!(refused(PROFILE, "pröd").contains("invalid character 'ö'"));
    assert!(refused(PROFILE, &"p".repeat(129)).contains("too long (129 > 128)"));
    assert_eq!(stored(PROFILE, &"p".repeat(128)).len(), 128);
}

#[test]
fn endpoint_scheme_error_is_aistores() {
    let _g = light_blocking();
    assert_eq!(
        refused(ENDPOINT, "foo"),
        "invalid extra.aws.endpoint \"foo\": unsupported scheme \"\" (expecting http or https)"
    );
    assert_eq!(
        refused(ENDPOINT, "ftp://x"),
        "invalid extra.aws.endpoint \"ftp://x\": unsupported scheme \"ftp\" (expecting http or https)"
    );
    // Like Go's url.Parse: "host:port" without a scheme reads as scheme "localhost".
    assert_eq!(
        refused(ENDPOINT, "localhost:9000"),
        "invalid extra.aws.endpoint \"localhost:9000\": unsupported scheme \"localhost\" (expecting http or https)"
    );
    assert_eq!(
        refused(ENDPOINT, "//x"),
        "invalid extra.aws.endpoint \"//x\": unsupported scheme \"\" (expecting http or https)"
    );
}

#[test]
fn endpoint_other_defects() {
    let _g = light_blocking();
    assert_eq!(
        refused(ENDPOINT, "http://"),
        "invalid extra.aws.endpoint \"http://\": missing host"
    );
    assert_eq!(
        refused(ENDPOINT, "https://:443"),
        "invalid extra.aws.endpoint \"https://:443\": missing host"
    );
    assert_eq!(
        refused(ENDPOINT, "http://x/bucket"),
        "invalid extra.aws.endpoint \"http://x/bucket\": unexpected path \"/bucket\" (expecting none)"
    );
    assert_eq!(
        refused(ENDPOINT, "http://x?a=1"),
        "invalid extra.aws.endpoint \"http://x?a=1\": unexpected query"
    );
    assert_eq!(
        refused(ENDPOINT, "http://key:secret@x"),
        "invalid extra.aws.endpoint \"http://key:secret@x\": user info is not allowed"
    );
    assert_eq!(
        refused(ENDPOINT, "http://x:99999"),
        "invalid extra.aws.endpoint \"http://x:99999\": invalid port \"99999\""
    );
    assert_eq!(
        refused(ENDPOINT, "http://x "),
        "invalid extra.aws.endpoint \"http://x \": leading/trailing whitespace"
    );
    assert!(refused(ENDPOINT, "http://x#frag").ends_with("unexpected fragment"));
    assert!(refused(ENDPOINT, "http://a b").ends_with("invalid character ' '"));
    assert!(refused(ENDPOINT, "http://bad_host!").ends_with("invalid host \"bad_host!\""));
}

#[test]
fn endpoint_is_stored_normalized() {
    let _g = light_blocking();
    assert_eq!(stored(ENDPOINT, "http://minio:9000/"), "http://minio:9000");
    assert_eq!(stored(ENDPOINT, "http://minio:9000"), "http://minio:9000");
    assert_eq!(
        stored(ENDPOINT, "HTTPS://S3.Eu-West-1.AmazonAWS.com/"),
        "https://s3.eu-west-1.amazonaws.com"
    );
    assert_eq!(stored(ENDPOINT, "http://10.1.2.3:80"), "http://10.1.2.3:80");
    assert_eq!(stored(ENDPOINT, "http://[::1]:9000/"), "http://[::1]:9000");
}

#[test]
fn endpoint_allowlist() {
    let _g = light_blocking();
    let policy = allow(&["s3.example.com", "minio:9000", "[::1]:9000"]);
    let ok = |v: &str| {
        let mut p = BucketProps::default();
        p.set(ENDPOINT, v, &policy)
            .unwrap_or_else(|e| panic!("{v}: {e}"));
    };
    ok("https://s3.example.com");
    ok("https://S3.EXAMPLE.COM:8443/"); // a host-only entry allows any port
    ok("http://minio:9000");
    ok("http://[::1]:9000");
    assert_eq!(
        refused_by(ENDPOINT, "http://x:9000", &policy),
        "extra.aws.endpoint \"http://x:9000\" is not allowed: host \"x\" is not in the endpoint allowlist"
    );
    // host:port entries allow that port only.
    assert_eq!(
        refused_by(ENDPOINT, "http://minio:9001", &policy),
        "extra.aws.endpoint \"http://minio:9001\" is not allowed: host \"minio\" is not in the endpoint allowlist"
    );
    assert!(refused_by(ENDPOINT, "http://minio", &policy).contains("is not allowed"));
    // An endpoint without a port has the scheme's default port.
    let default_port = allow(&["minio:443"]);
    let mut p = BucketProps::default();
    p.set(ENDPOINT, "https://minio", &default_port).unwrap();
    assert!(refused_by(ENDPOINT, "http://minio", &default_port).contains("is not allowed"));
    // An empty allowlist allows nothing; the syntax check comes first.
    assert!(refused_by(ENDPOINT, "http://minio:9000", &allow(&[])).contains("is not allowed"));
    assert!(refused_by(ENDPOINT, "foo", &allow(&[])).contains("unsupported scheme"));
    // Clearing is always allowed.
    let mut p = BucketProps {
        endpoint: Some("http://old:1".parse().unwrap()),
        ..Default::default()
    };
    assert_eq!(
        p.set(ENDPOINT, "", &allow(&[])).unwrap().as_deref(),
        Some("http://old:1")
    );
    assert_eq!(p.endpoint, None);
}

#[test]
fn cloud_region_and_addressing_style() {
    let _g = light_blocking();
    for good in ["us-east-1", "eu-central-2", "us-gov-west-1", "auto", "x1"] {
        assert_eq!(stored(REGION, good), good);
    }
    assert_eq!(
        refused(REGION, "US-EAST-1"),
        "invalid extra.aws.cloud_region \"US-EAST-1\": expecting lowercase letters, digits and dashes (e.g. us-east-1)"
    );
    for bad in ["us_east_1", "-us", "us-", "us east", "us.east"] {
        assert!(
            refused(REGION, bad).contains("expecting lowercase"),
            "{bad}"
        );
    }
    assert!(refused(REGION, &"a".repeat(65)).contains("too long (65 > 64)"));

    for good in ["auto", "path", "virtual"] {
        assert_eq!(stored(STYLE, good), good);
    }
    assert_eq!(
        refused(STYLE, "Path"),
        "invalid extra.aws.addressing_style \"Path\": expecting one of auto, path, virtual"
    );
    assert!(refused(STYLE, "vhost").contains("expecting one of"));
}

#[test]
fn empty_value_clears_and_set_returns_the_old_value() {
    let _g = light_blocking();
    let mut p = BucketProps::default();
    for (name, value) in [
        (PropKey::Anonymous, "read"),
        (BACKEND, "abc"),
        (PROFILE, "prod"),
        (ENDPOINT, "http://minio:9000"),
        (REGION, "us-east-1"),
        (STYLE, "path"),
        (PropKey::ReadOnly, "true"),
    ] {
        assert_eq!(p.set(name, value, &any_host()).unwrap(), None);
        assert_eq!(p.get(name), Some(value));
        assert_eq!(
            p.set(name, value, &any_host()).unwrap().as_deref(),
            Some(value)
        );
    }
    assert_eq!(
        p.set(BACKEND, "s3://xyz", &any_host()).unwrap().as_deref(),
        Some("abc")
    );
    for name in PropKey::ALL {
        let old = p.set(name, "", &any_host()).unwrap();
        assert!(old.is_some(), "{name}");
        assert_eq!(p.get(name), None);
        assert_eq!(p.set(name, "", &any_host()).unwrap(), None, "{name}");
    }
    assert_eq!(p, BucketProps::default());
}

#[test]
fn a_refused_value_keeps_the_old_one() {
    let _g = light_blocking();
    let mut p = BucketProps::default();
    p.set(ENDPOINT, "http://good:1", &any_host()).unwrap();
    assert!(p.set(ENDPOINT, "bad", &any_host()).is_err());
    assert_eq!(p.endpoint.as_deref(), Some("http://good:1"));
}

#[test]
fn unknown_property_names_are_refused_listing_the_known_ones() {
    let _g = light_blocking();
    let want = "unknown property \"extra.aws.region\" (known: anonymous, backend_bck, extra.aws.addressing_style, extra.aws.cloud_region, extra.aws.endpoint, extra.aws.profile, read_only)";
    assert_eq!(
        "extra.aws.region"
            .parse::<PropKey>()
            .unwrap_err()
            .to_string(),
        want
    );
    assert!(
        "profile".parse::<PropKey>().is_err(),
        "field names are not property names"
    );
    assert!("EXTRA.AWS.PROFILE".parse::<PropKey>().is_err());
}

#[test]
fn pairs_lists_every_property_sorted() {
    let _g = light_blocking();
    let mut p = BucketProps::default();
    p.set(PROFILE, "prod", &any_host()).unwrap();
    p.set(BACKEND, "s3://upstream", &any_host()).unwrap();
    assert_eq!(
        p.pairs(),
        vec![
            ("anonymous", String::new()),
            ("backend_bck", "upstream".to_string()),
            ("extra.aws.addressing_style", String::new()),
            ("extra.aws.cloud_region", String::new()),
            ("extra.aws.endpoint", String::new()),
            ("extra.aws.profile", "prod".to_string()),
            ("read_only", String::new()),
        ]
    );
}

#[test]
fn routing_changed_ignores_the_region_anonymous_access_and_read_only() {
    let _g = light_blocking();
    let base = BucketProps {
        anonymous: Some("forward".parse().unwrap()),
        backend_bck: Some("abc".parse().unwrap()),
        profile: Some("p".parse().unwrap()),
        endpoint: Some("http://e:1".parse().unwrap()),
        cloud_region: Some("us-east-1".parse().unwrap()),
        addressing_style: Some("path".parse().unwrap()),
        read_only: Some(true),
    };
    assert!(!base.routing_changed(&base.clone()));
    let mut writable = base.clone();
    writable.read_only = None;
    assert!(!base.routing_changed(&writable));
    let mut region = base.clone();
    region.cloud_region = Some("eu-west-1".parse().unwrap());
    assert!(!base.routing_changed(&region));
    region.cloud_region = None;
    assert!(!base.routing_changed(&region));
    let mut anonymous = base.clone();
    anonymous.anonymous = Some("read".parse().unwrap());
    assert!(!base.routing_changed(&anonymous));
    anonymous.anonymous = None;
    assert!(!base.routing_changed(&anonymous));
    for name in [BACKEND, PROFILE, ENDPOINT, STYLE] {
        let mut other = base.clone();
        other.set(name, "", &any_host()).unwrap();
        assert!(base.routing_changed(&other), "{name} cleared");
        assert!(other.routing_changed(&base), "{name} set");
    }
}
