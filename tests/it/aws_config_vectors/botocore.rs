//! The botocore vectors: the configured-endpoint-URL suite, and the INI fixtures of botocore's
//! unit tests.

use super::*;

/// Writes the suite's JSON profiles and services as a config file.
fn suite_to_ini(suite: &Value) -> String {
    let mut out = String::new();
    for (name, props) in suite["profiles"].as_object().unwrap() {
        if name == "default" {
            out.push_str("[default]\n");
        } else {
            out.push_str(&format!("[profile {name}]\n"));
        }
        for (k, v) in props.as_object().unwrap() {
            out.push_str(&format!("{k} = {}\n", v.as_str().unwrap()));
        }
    }
    for (name, services) in suite["services"].as_object().unwrap() {
        out.push_str(&format!("[services {name}]\n"));
        for (service, props) in services.as_object().unwrap() {
            out.push_str(&format!("{service} =\n"));
            for (k, v) in props.as_object().unwrap() {
                out.push_str(&format!("  {k} = {}\n", v.as_str().unwrap()));
            }
        }
    }
    out
}

#[test]
fn botocore_endpoint_url_profile_tests() {
    let _g = light_blocking();
    let doc = read_json(&vectors(
        "botocore/configured_endpoint_urls/profile-tests.json",
    ));
    let mut count = 0;
    for suite in doc["testSuites"].as_array().unwrap() {
        let set = ProfileSet::parse(Some(&suite_to_ini(suite)), None).unwrap();
        assert_eq!(
            set.profiles.len(),
            suite["profiles"].as_object().unwrap().len()
        );
        for case in suite["endpointUrlTests"].as_array().unwrap() {
            count += 1;
            let name = case["name"].as_str().unwrap();
            let profile = case["profile"].as_str().unwrap();
            let service = case["service"].as_str().unwrap();
            let vars: HashMap<String, String> = suite["environments"]
                [case["environment"].as_str().unwrap()]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
            let client = &suite["client_configs"][case["client_config"].as_str().unwrap()];
            let client = ClientEndpoint {
                endpoint_url: client["endpoint_url"].as_str(),
                ignore_configured: client["ignore_configured_endpoint_urls"]
                    .as_bool()
                    .unwrap_or(false),
            };
            let got =
                endpoint::resolve_endpoint_url(&set, profile, &vars, service, client).unwrap();
            let region =
                resolve_region(&set.profiles[profile], &vars).expect("every profile has a region");
            let effective = got
                .clone()
                .unwrap_or_else(|| format!("https://{service}.{region}.amazonaws.com"));
            assert_eq!(
                effective,
                case["output"]["endpointUrl"].as_str().unwrap(),
                "{name}"
            );
            if service == "s3" && !client.ignore_configured {
                let env = ProfileEnv { vars: vars.clone() };
                let resolved = set
                    .resolve(
                        profile,
                        &env,
                        client.endpoint_url,
                        ResolveOptions::default(),
                    )
                    .unwrap();
                assert_eq!(
                    resolved.endpoint_url, got,
                    "{name}: ProfileSet::resolve agrees"
                );
            }
        }
    }
    assert_eq!(count, 39);
}

fn cfg(name: &str) -> Result<ProfileSet, ProfileError> {
    let missing = vectors("botocore/cfg/does-not-exist");
    ProfileSet::load_files(&vectors(&format!("botocore/cfg/{name}")), &missing)
}

fn keys_of(set: &ProfileSet, profile: &str) -> (String, String) {
    let p = &set.profiles[profile];
    (
        p["aws_access_key_id"].clone(),
        p["aws_secret_access_key"].clone(),
    )
}

#[test]
fn botocore_cfg_fixtures() {
    let _g = light_blocking();
    let env = ProfileEnv::default();
    let opts = ResolveOptions::default();

    // Properties before any section / a sub-property line without '='.
    match cfg("aws_config_bad") {
        Err(ProfileError::Parse {
            line: 1, message, ..
        }) => assert!(message.contains("Expected a profile definition")),
        other => panic!("aws_config_bad: {other:?}"),
    }
    match cfg("aws_config_nested_bad") {
        Err(ProfileError::Parse {
            line: 5, message, ..
        }) => {
            assert_eq!(message, "Expected an '=' sign defining a sub-property")
        }
        other => panic!("aws_config_nested_bad: {other:?}"),
    }

    let nested = cfg("aws_config_nested").unwrap();
    let d = &nested.profiles["default"];
    let s3 = sub_properties(&d["s3"]);
    assert_eq!(s3.len(), 2);
    assert_eq!(
        (
            s3["signature_version"].as_str(),
            s3["addressing_style"].as_str()
        ),
        ("s3v4", "path")
    );
    assert_eq!(sub_properties(&d["cloudwatch"])["signature_version"], "v4");
    assert_eq!(d["region"], "us-west-2");
    let r = nested.resolve("default", &env, None, opts).unwrap();
    assert_eq!(r.addressing_style, Some(AddressingStyle::Path));
    assert_eq!(r.region.as_deref(), Some("us-west-2"));

    let services = cfg("aws_services_config").unwrap();
    let section = &services.services["my-services"];
    assert_eq!(
        sub_properties(&section["s3"])["endpoint_url"],
        "https://localhost:5678/"
    );
    assert_eq!(
        sub_properties(&section["dynamodb"])["endpoint_url"],
        "https://localhost:8888/"
    );
    let r = services.resolve("default", &env, None, opts).unwrap();
    assert_eq!(
        r.endpoint_url.as_deref(),
        Some("https://localhost:5678/"),
        "services section beats endpoint_url"
    );
    let ddb = endpoint::resolve_endpoint_url(
        &services,
        "default",
        &env.vars,
        "dynamodb",
        ClientEndpoint::default(),
    );
    assert_eq!(ddb.unwrap().as_deref(), Some("https://localhost:8888/"));
    let sts = endpoint::resolve_endpoint_url(
        &services,
        "default",
        &env.vars,
        "sts",
        ClientEndpoint::default(),
    );
    assert_eq!(
        sts.unwrap().as_deref(),
        Some("https://localhost:1234/"),
        "no sts block: the profile's endpoint_url"
    );

    let sso = cfg("aws_sso_session_config").unwrap();
    assert_eq!(sso.sso_sessions["sso"]["sso_region"], "us-east-1");
    assert_eq!(
        sso.sso_sessions["sso"]["sso_start_url"],
        "https://example.com"
    );
    let err = sso
        .resolve("default", &env, None, opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("SSO is not supported"), "{err}");

    // botocore also finds "my profile" (quotes stripped); the cross-SDK rules skip quoted names.
    let bad = cfg("aws_bad_profile").unwrap();
    assert_eq!(bad.names(), ["default", "personal1"]);
    assert_eq!(
        keys_of(&bad, "personal1"),
        ("access_personal1".into(), "key_personal1".into())
    );

    // botocore merges these three config files (first wins for `default`); rebucket reads one
    // config file, so each is checked on its own. `[profile "personal"]` is skipped (quotes).
    for (file, key, secret) in [
        ("aws_config", "foo", "bar"),
        ("aws_config_other", "other_foo", "other_bar"),
        ("aws_third_config", "third_foo", "third_bar"),
    ] {
        let set = cfg(file).unwrap();
        assert_eq!(set.names(), ["default"], "{file}");
        assert_eq!(
            keys_of(&set, "default"),
            (key.to_owned(), secret.to_owned()),
            "{file}"
        );
        match set
            .resolve("default", &env, None, opts)
            .unwrap()
            .credentials
        {
            CredentialSource::Static(k) => {
                assert_eq!((k.access_key_id.as_str(), k.session_token), (key, None))
            }
            other => panic!("{file}: {other:?}"),
        }
    }

    let nocreds = cfg("aws_config_nocreds").unwrap();
    let r = nocreds.resolve("default", &env, None, opts).unwrap();
    assert_eq!(
        (r.region.as_deref(), r.credentials),
        (Some("us-west-2"), CredentialSource::Anonymous)
    );
}
