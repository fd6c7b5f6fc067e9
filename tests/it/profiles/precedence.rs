//! Region and endpoint precedence: explicit settings, the environment, the profile, services
//! sections.

use super::*;

#[test]
fn region_precedence() {
    let _g = light_blocking();
    let cfg = "[profile p]\nregion = from-profile\n";
    let region = |env: &[(&str, &str)]| resolve(cfg, "", "p", env).unwrap().region;
    assert_eq!(region(&[]).as_deref(), Some("from-profile"));
    assert_eq!(
        region(&[("AWS_DEFAULT_REGION", "default-env")]).as_deref(),
        Some("default-env")
    );
    assert_eq!(
        region(&[("AWS_DEFAULT_REGION", "default-env"), ("AWS_REGION", "env")]).as_deref(),
        Some("env")
    );
    assert_eq!(
        region(&[("AWS_REGION", " "), ("AWS_DEFAULT_REGION", "default-env")]).as_deref(),
        Some("default-env")
    );
    assert_eq!(resolve("[profile q]\n", "", "q", &[]).unwrap().region, None);
}

const ENDPOINT_CFG: &str = "\
[profile p]
endpoint_url = http://profile
services = svc
[services svc]
s3 =
  endpoint_url = http://services-s3
sts =
  endpoint_url = http://services-sts
[profile plain]
endpoint_url = http://profile
[profile ignoring]
endpoint_url = http://profile
ignore_configured_endpoint_urls = true
[profile dangling]
services = nowhere
endpoint_url = http://profile
";

fn s3_endpoint(profile: &str, env: &[(&str, &str)], explicit: Option<&str>) -> Option<String> {
    let home = Home::new(ENDPOINT_CFG, "");
    let env = home.env(env);
    ProfileSet::load(&env)
        .unwrap()
        .resolve(profile, &env, explicit, OPTS)
        .unwrap()
        .endpoint_url
}

#[test]
fn s3_endpoint_precedence() {
    let _g = light_blocking();
    let e = |profile, env: &[(&str, &str)], explicit| s3_endpoint(profile, env, explicit);
    assert_eq!(e("plain", &[], None).as_deref(), Some("http://profile"));
    assert_eq!(
        e("p", &[], None).as_deref(),
        Some("http://services-s3"),
        "services beats endpoint_url"
    );
    assert_eq!(
        e("dangling", &[], None).as_deref(),
        Some("http://profile"),
        "missing services section is ignored"
    );
    let global = ("AWS_ENDPOINT_URL", "http://global-env");
    let service = ("AWS_ENDPOINT_URL_S3", "http://s3-env");
    assert_eq!(
        e("p", &[global], None).as_deref(),
        Some("http://global-env")
    );
    assert_eq!(
        e("p", &[global, service], None).as_deref(),
        Some("http://s3-env")
    );
    assert_eq!(
        e("p", &[global, service], Some("http://bucket")).as_deref(),
        Some("http://bucket")
    );
    assert_eq!(
        e("p", &[("AWS_ENDPOINT_URL_STS", "http://sts-env")], None).as_deref(),
        Some("http://services-s3")
    );
    assert_eq!(
        e("p", &[("AWS_ENDPOINT_URL", "")], None).as_deref(),
        Some("http://services-s3"),
        "empty is unset"
    );

    let ignore = ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE");
    assert_eq!(e("p", &[ignore, global, service], None), None);
    assert_eq!(
        e("p", &[ignore, global], Some("http://bucket")).as_deref(),
        Some("http://bucket")
    );
    assert_eq!(
        e("ignoring", &[service], None),
        None,
        "profile flag ignores env and profile endpoints"
    );
    assert_eq!(
        e("ignoring", &[], Some("http://bucket")).as_deref(),
        Some("http://bucket")
    );
    let dont = ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false");
    assert_eq!(
        e("ignoring", &[dont], None).as_deref(),
        Some("http://profile"),
        "the variable beats the profile"
    );

    let home = Home::new(ENDPOINT_CFG, "");
    let env = home.env(&[("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "yes")]);
    let err = ProfileSet::load(&env)
        .unwrap()
        .resolve("p", &env, None, OPTS)
        .unwrap_err();
    assert!(matches!(err, ProfileError::Invalid { .. }), "{err}");
}

const ROLE_CFG: &str = "\
[profile base]
aws_access_key_id = AKIDBASE0000000000
aws_secret_access_key = base-secret
[profile role]
role_arn = arn:aws:iam::123456789012:role/r
source_profile = base
region = eu-west-3
services = svc
endpoint_url = http://profile
[services svc]
sts =
  endpoint_url = http://services-sts
";

fn sts_endpoint(
    cfg: &str,
    env: &[(&str, &str)],
    explicit: Option<&str>,
) -> (Option<String>, Option<String>) {
    let home = Home::new(cfg, "");
    let env = home.env(env);
    let r = ProfileSet::load(&env)
        .unwrap()
        .resolve("role", &env, explicit, OPTS)
        .unwrap();
    match r.credentials {
        CredentialSource::AssumeRole {
            sts_endpoint,
            region,
            ..
        } => (sts_endpoint, region),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sts_endpoint_precedence() {
    let _g = light_blocking();
    assert_eq!(
        sts_endpoint(ROLE_CFG, &[], None).0.as_deref(),
        Some("http://services-sts")
    );
    assert_eq!(
        sts_endpoint(ROLE_CFG, &[], Some("http://bucket"))
            .0
            .as_deref(),
        Some("http://services-sts"),
        "explicit S3 endpoint is S3 only"
    );
    assert_eq!(
        sts_endpoint(ROLE_CFG, &[("AWS_ENDPOINT_URL_S3", "http://s3")], None)
            .0
            .as_deref(),
        Some("http://services-sts")
    );
    assert_eq!(
        sts_endpoint(ROLE_CFG, &[("AWS_ENDPOINT_URL", "http://g")], None)
            .0
            .as_deref(),
        Some("http://g")
    );
    let both = [
        ("AWS_ENDPOINT_URL", "http://g"),
        ("AWS_ENDPOINT_URL_STS", "http://sts-env"),
    ];
    assert_eq!(
        sts_endpoint(ROLE_CFG, &both, None).0.as_deref(),
        Some("http://sts-env")
    );
    assert_eq!(
        sts_endpoint(
            ROLE_CFG,
            &[("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")],
            None
        )
        .0,
        None
    );
    let no_services = ROLE_CFG.replace("services = svc\n", "");
    assert_eq!(
        sts_endpoint(&no_services, &[], None).0.as_deref(),
        Some("http://profile")
    );
    // The STS region follows the same region precedence.
    assert_eq!(
        sts_endpoint(ROLE_CFG, &[], None).1.as_deref(),
        Some("eu-west-3")
    );
    assert_eq!(
        sts_endpoint(ROLE_CFG, &[("AWS_REGION", "ap-south-1")], None)
            .1
            .as_deref(),
        Some("ap-south-1")
    );
}
