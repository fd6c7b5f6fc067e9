//! Resolution order (region, endpoints), credential sources, the CLI helpers, STS AssumeRole
//! against a real STS endpoint on loopback (moto), and a no-panic property test of the parser.

#[path = "common/moto.rs"]
mod moto;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_types::error::display::DisplayErrorContext;
use proptest::prelude::*;
use rebucket::profiles::parser::is_valid_identifier;
use rebucket::profiles::{
    AddressingStyle, CredentialSource, ProfileEnv, ProfileError, ProfileSet, ResolveOptions,
    StaticCredentials, cli, credentials_provider,
};

const OPTS: ResolveOptions = ResolveOptions {
    allow_credential_process: false,
};

/// A temporary home with `.aws/config` and `.aws/credentials`.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(config: &str, credentials: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        std::fs::write(dir.path().join(".aws/config"), config).unwrap();
        std::fs::write(dir.path().join(".aws/credentials"), credentials).unwrap();
        Home { dir }
    }

    fn env(&self, extra: &[(&str, &str)]) -> ProfileEnv {
        let mut vars: HashMap<String, String> =
            HashMap::from([("HOME".into(), self.dir.path().display().to_string())]);
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        ProfileEnv { vars }
    }
}

fn resolve(
    config: &str,
    credentials: &str,
    name: &str,
    env: &[(&str, &str)],
) -> Result<rebucket::profiles::ResolvedProfile, ProfileError> {
    let home = Home::new(config, credentials);
    let env = home.env(env);
    ProfileSet::load(&env)?.resolve(name, &env, None, OPTS)
}

// ---------------------------------------------------------------------------------------------
// Region and endpoint precedence

#[test]
fn region_precedence() {
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

// ---------------------------------------------------------------------------------------------
// Credentials

#[test]
fn static_keys_partial_keys_and_session_token() {
    let ok = resolve(
        "",
        "[k]\nAWS_ACCESS_KEY_ID = AKID\naws_secret_access_key = s\naws_session_token = t",
        "k",
        &[],
    )
    .unwrap();
    assert_eq!(
        ok.credentials,
        CredentialSource::Static(StaticCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: "s".into(),
            session_token: Some("t".into())
        })
    );
    for (creds, missing) in [
        ("[k]\naws_access_key_id = a", "aws_secret_access_key"),
        ("[k]\naws_secret_access_key = s", "aws_access_key_id"),
    ] {
        match resolve("", creds, "k", &[]) {
            Err(ProfileError::Invalid { name, message }) => {
                assert_eq!(name, "k");
                assert!(message.contains(missing), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Credentials file wins over config for the same profile.
    let merged = resolve(
        "[profile k]\naws_access_key_id = cfg\naws_secret_access_key = cfg\nregion = r",
        "[k]\naws_access_key_id = cred\naws_secret_access_key = cred",
        "k",
        &[],
    )
    .unwrap();
    assert!(
        matches!(&merged.credentials, CredentialSource::Static(k) if k.access_key_id == "cred")
    );
    assert_eq!(merged.region.as_deref(), Some("r"));
}

#[test]
fn no_credentials_is_anonymous_and_env_keys_do_not_override_a_profile() {
    let env = [
        ("AWS_ACCESS_KEY_ID", "ENVKEY"),
        ("AWS_SECRET_ACCESS_KEY", "envsecret"),
    ];
    assert_eq!(
        resolve("[profile p]\nregion = x", "", "p", &env)
            .unwrap()
            .credentials,
        CredentialSource::Anonymous
    );
    let r = resolve(
        "",
        "[p]\naws_access_key_id = FILEKEY\naws_secret_access_key = s",
        "p",
        &env,
    )
    .unwrap();
    assert!(matches!(r.credentials, CredentialSource::Static(k) if k.access_key_id == "FILEKEY"));
}

#[test]
fn roles_chains_loops_and_credential_source() {
    let cfg = "\
[profile a]
role_arn = arn:aws:iam::1:role/a
source_profile = b
role_session_name = sess
external_id = ext
duration_seconds = 1800
[profile b]
role_arn = arn:aws:iam::1:role/b
source_profile = c
[profile c]
aws_access_key_id = CKEY
aws_secret_access_key = csecret
[profile loop1]
role_arn = arn:aws:iam::1:role/l1
source_profile = loop2
[profile loop2]
role_arn = arn:aws:iam::1:role/l2
source_profile = loop1
[profile envrole]
role_arn = arn:aws:iam::1:role/e
credential_source = Environment
[profile imds]
role_arn = arn:aws:iam::1:role/i
credential_source = Ec2InstanceMetadata
[profile mfa]
role_arn = arn:aws:iam::1:role/m
source_profile = c
mfa_serial = arn:aws:iam::1:mfa/u
[profile badduration]
role_arn = arn:aws:iam::1:role/d
source_profile = c
duration_seconds = an hour
[profile dangling]
role_arn = arn:aws:iam::1:role/x
source_profile = nope
";
    let a = resolve(cfg, "", "a", &[]).unwrap().credentials;
    let CredentialSource::AssumeRole {
        role_arn,
        role_session_name,
        external_id,
        duration_seconds,
        source,
        ..
    } = &a
    else {
        panic!("{a:?}")
    };
    assert_eq!(role_arn, "arn:aws:iam::1:role/a");
    assert_eq!(
        (
            role_session_name.as_deref(),
            external_id.as_deref(),
            *duration_seconds
        ),
        (Some("sess"), Some("ext"), Some(1800))
    );
    let CredentialSource::AssumeRole {
        role_arn: b_arn,
        source: c,
        ..
    } = source.as_ref()
    else {
        panic!("{source:?}")
    };
    assert_eq!(b_arn, "arn:aws:iam::1:role/b");
    assert!(matches!(c.as_ref(), CredentialSource::Static(k) if k.access_key_id == "CKEY"));

    let err = resolve(cfg, "", "loop1", &[]).unwrap_err().to_string();
    assert!(
        err.contains("infinite loop") && err.contains("loop1"),
        "{err}"
    );
    let err = resolve(cfg, "", "dangling", &[]).unwrap_err().to_string();
    assert!(err.contains("could not find source profile nope"), "{err}");

    let env_keys = [
        ("AWS_ACCESS_KEY_ID", "ENVKEY"),
        ("AWS_SECRET_ACCESS_KEY", "envsecret"),
        ("AWS_SESSION_TOKEN", "tok"),
    ];
    let e = resolve(cfg, "", "envrole", &env_keys).unwrap().credentials;
    let CredentialSource::AssumeRole { source, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(
        matches!(source.as_ref(), CredentialSource::Static(k) if k.access_key_id == "ENVKEY" && k.session_token.as_deref() == Some("tok"))
    );
    let err = resolve(cfg, "", "envrole", &[]).unwrap_err().to_string();
    assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");

    for (profile, needle) in [
        ("imds", "not supported"),
        ("mfa", "mfa_serial"),
        ("badduration", "duration_seconds"),
    ] {
        let err = resolve(cfg, "", profile, &[]).unwrap_err();
        assert!(
            matches!(&err, ProfileError::Invalid { name, .. } if name == profile),
            "{err:?}"
        );
        assert!(err.to_string().contains(needle), "{profile}: {err}");
    }
}

#[test]
fn sso_and_web_identity_are_refused_even_next_to_static_keys() {
    let cfg = "\
[profile sso]
sso_account_id = 1
sso_role_name = r
sso_region = us-east-1
sso_start_url = https://x
aws_access_key_id = a
aws_secret_access_key = s
[profile web]
role_arn = arn:aws:iam::1:role/w
web_identity_token_file = /tmp/t
aws_access_key_id = a
aws_secret_access_key = s
";
    for profile in ["sso", "web"] {
        let err = resolve(cfg, "", profile, &[]).unwrap_err().to_string();
        assert!(err.contains("not supported"), "{profile}: {err}");
    }
}

#[tokio::test]
async fn credential_process_opt_in_and_run() {
    let expiry = "2031-01-02T03:04:05Z";
    let json = format!(
        r#"{{"Version": 1, "AccessKeyId": "PROCKEY", "SecretAccessKey": "procsecret", "SessionToken": "proctoken", "Expiration": "{expiry}"}}"#
    );
    let cfg = format!("[profile p]\ncredential_process = printf '%s' '{json}'\n");
    match resolve(&cfg, "", "p", &[]) {
        Err(ProfileError::Invalid { message, .. }) => {
            assert!(
                message.contains("disabled") && message.contains("allow_credential_process = true"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    let home = Home::new(&cfg, "");
    let env = home.env(&[]);
    let allowed = ResolveOptions {
        allow_credential_process: true,
    };
    let r = ProfileSet::load(&env)
        .unwrap()
        .resolve("p", &env, None, allowed)
        .unwrap();
    assert!(
        matches!(&r.credentials, CredentialSource::Process { command } if command.starts_with("printf"))
    );
    let creds = credentials_provider(&r.credentials)
        .unwrap()
        .provide_credentials()
        .await
        .unwrap();
    assert_eq!(
        (
            creds.access_key_id(),
            creds.secret_access_key(),
            creds.session_token()
        ),
        ("PROCKEY", "procsecret", Some("proctoken"))
    );
    let secs = creds
        .expiry()
        .unwrap()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(secs, 1_925_089_445, "2031-01-02T03:04:05Z");

    let bad = credentials_provider(&CredentialSource::Process {
        command: r#"echo '{"Version": 2}'"#.into(),
    })
    .unwrap();
    let err = DisplayErrorContext(bad.provide_credentials().await.unwrap_err()).to_string();
    assert!(err.contains("unknown version number"), "{err}");
}

#[test]
fn addressing_style_sub_property() {
    let style = |block: &str| {
        resolve(&format!("[profile p]\ns3 =\n{block}"), "", "p", &[]).map(|r| r.addressing_style)
    };
    assert_eq!(
        style("  addressing_style = path\n").unwrap(),
        Some(AddressingStyle::Path)
    );
    assert_eq!(
        style("  addressing_style = Virtual\n").unwrap(),
        Some(AddressingStyle::Virtual)
    );
    assert_eq!(
        style("  addressing_style = auto\n  max_concurrent_requests = 2\n").unwrap(),
        Some(AddressingStyle::Auto)
    );
    assert_eq!(style("  use_accelerate_endpoint = true\n").unwrap(), None);
    assert!(style("  addressing_style = sideways\n").is_err());
    assert_eq!(
        resolve("[profile p]\naddressing_style = path\n", "", "p", &[])
            .unwrap()
            .addressing_style,
        None,
        "top-level key is not the s3 setting"
    );
}

// ---------------------------------------------------------------------------------------------
// Files, errors, CLI

#[test]
fn locating_files_missing_profiles_and_parse_errors() {
    let home = Home::new("[profile p]\nregion = r\n", "");
    // `~` in the override is expanded with HOME.
    std::fs::write(
        home.dir.path().join("other-config"),
        "[profile other]\nregion = o\n",
    )
    .unwrap();
    let env = home.env(&[("AWS_CONFIG_FILE", "~/other-config")]);
    let set = ProfileSet::load(&env).unwrap();
    assert_eq!(set.names(), ["other"]);

    let env = home.env(&[]);
    let set = ProfileSet::load(&env).unwrap();
    match set.resolve("ghost", &env, None, OPTS) {
        Err(e @ ProfileError::NotFound { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("\"ghost\"")
                    && text.contains(".aws/config")
                    && text.contains(".aws/credentials"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }

    let bad = Home::new("[profile ok]\nregion = r\n\n[profile broken\n", "");
    let err = ProfileSet::load(&bad.env(&[])).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ProfileError::Parse { line: 4, .. }), "{text}");
    assert!(
        text.contains(".aws/config:4:") && text.contains("must end with ']'"),
        "{text}"
    );

    let utf8 = Home::new("", "");
    std::fs::write(
        utf8.dir.path().join(".aws/credentials"),
        b"[a]\nk = v\nx = \xff\xfe\n",
    )
    .unwrap();
    match ProfileSet::load(&utf8.env(&[])) {
        Err(ProfileError::Parse { line, path, .. }) => {
            assert_eq!(line, 3);
            assert!(path.ends_with(".aws/credentials"));
        }
        other => panic!("{other:?}"),
    }

    // Missing files are empty.
    let empty = tempfile::tempdir().unwrap();
    let env = ProfileEnv::from_pairs([("HOME", empty.path().display().to_string())]);
    assert!(ProfileSet::load(&env).unwrap().profiles.is_empty());
}

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const ACCESS: &str = "AKIAIOSFODNN7EXAMPLE";

#[test]
fn cli_output_masks_secrets() {
    let creds = format!(
        "[static]\naws_access_key_id = {ACCESS}\naws_secret_access_key = {SECRET}\naws_session_token = SESSIONTOKENVALUE\n"
    );
    let cfg = "\
[profile static]
region = eu-central-1
[profile role]
role_arn = arn:aws:iam::1:role/r
source_profile = static
s3 =
  addressing_style = path
[profile broken]
aws_access_key_id = only
[services s]
s3 =
  endpoint_url = http://x
";
    let home = Home::new(cfg, &creds);
    let env = home.env(&[]);

    let listed = cli::list(&env, OPTS);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(
        lines[0].starts_with("broken") && lines[0].contains("error"),
        "{listed}"
    );
    assert!(
        lines[1].starts_with("role")
            && lines[1].contains("assume-role arn:aws:iam::1:role/r via static AKIA…MPLE"),
        "{listed}"
    );
    assert!(
        lines[2].contains("region=eu-central-1") && lines[2].contains("+session-token"),
        "{listed}"
    );

    let shown = cli::show(&env, "role", OPTS).unwrap();
    assert!(
        shown.contains("addressing_style: path")
            && shown.contains("role_arn: arn:aws:iam::1:role/r"),
        "{shown}"
    );
    assert!(shown.contains("access_key_id: AKIA…MPLE"), "{shown}");
    for text in [&listed, &shown] {
        assert!(
            !text.contains(SECRET) && !text.contains(ACCESS) && !text.contains("SESSIONTOKENVALUE"),
            "{text}"
        );
    }
    let resolved = ProfileSet::load(&env)
        .unwrap()
        .resolve("static", &env, None, OPTS)
        .unwrap();
    let debug = format!("{resolved:?}");
    assert!(
        !debug.contains(SECRET) && !debug.contains("SESSIONTOKENVALUE"),
        "{debug}"
    );
    assert!(matches!(
        cli::show(&env, "ghost", OPTS),
        Err(ProfileError::NotFound { .. })
    ));

    let dumped: serde_json::Value =
        serde_json::from_str(&cli::dump(None, None, &env).unwrap()).unwrap();
    assert_eq!(
        dumped["profiles"]["role"]["s3"],
        "\naddressing_style = path"
    );
    assert_eq!(dumped["profiles"]["static"]["region"], "eu-central-1");
    assert_eq!(dumped["services"]["s"]["s3"], "\nendpoint_url = http://x");

    let bad = Home::new("oops\n", "");
    assert!(cli::list(&bad.env(&[]), OPTS).starts_with("error: "));
    assert!(matches!(
        cli::dump(None, None, &bad.env(&[])),
        Err(ProfileError::Parse { line: 1, .. })
    ));
}

#[test]
fn mask_access_key_shapes() {
    assert_eq!(cli::mask_access_key("AKIAIOSFODNN7EXAMPLE"), "AKIA…MPLE");
    assert_eq!(cli::mask_access_key("abcdefghij"), "ab…ij");
    assert_eq!(cli::mask_access_key("abc"), "…");
}

// ---------------------------------------------------------------------------------------------
// STS against moto on loopback

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assume_role_against_moto() {
    let Some(moto) = moto::Moto::start() else {
        return;
    };
    let cfg = "\
[profile base]
aws_access_key_id = AKIDBASE0000000000
aws_secret_access_key = base-secret
[profile role]
role_arn = arn:aws:iam::123456789012:role/first
source_profile = base
duration_seconds = 900
role_session_name = rebucket-test
external_id = ext-1
region = us-west-2
[profile chained]
role_arn = arn:aws:iam::123456789012:role/second
source_profile = role
";
    let home = Home::new(cfg, "");
    let env = home.env(&[("AWS_ENDPOINT_URL", &moto.url)]);
    let set = ProfileSet::load(&env).unwrap();

    let role = set.resolve("role", &env, None, OPTS).unwrap();
    assert_eq!(role.endpoint_url.as_deref(), Some(moto.url.as_str()));
    let CredentialSource::AssumeRole { sts_endpoint, .. } = &role.credentials else {
        panic!("{:?}", role.credentials)
    };
    assert_eq!(sts_endpoint.as_deref(), Some(moto.url.as_str()));

    let provider = credentials_provider(&role.credentials).unwrap();
    let before = SystemTime::now();
    let creds = provider
        .provide_credentials()
        .await
        .unwrap_or_else(|e| panic!("{}", DisplayErrorContext(e)));
    assert!(!creds.access_key_id().is_empty() && creds.access_key_id() != "AKIDBASE0000000000");
    assert!(creds.session_token().is_some_and(|t| !t.is_empty()));
    let expiry = creds
        .expiry()
        .expect("temporary credentials carry an expiry");
    let lifetime = expiry.duration_since(before).expect("expiry in the future");
    assert!(
        lifetime > Duration::from_secs(800) && lifetime < Duration::from_secs(1000),
        "duration_seconds=900 gave {lifetime:?}"
    );

    // A two-hop chain: `chained` assumes `second` with credentials from assuming `first`.
    let chained = set.resolve("chained", &env, None, OPTS).unwrap();
    let second = credentials_provider(&chained.credentials)
        .unwrap()
        .provide_credentials()
        .await;
    let second = second.unwrap_or_else(|e| panic!("{}", DisplayErrorContext(e)));
    assert!(second.expiry().is_some());
    assert_ne!(second.access_key_id(), creds.access_key_id());

    // The provider plugged into an S3 client (through the SDK's identity cache).
    let shared = credentials_provider(&role.credentials).unwrap();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(
            role.region.clone().unwrap(),
        ))
        .endpoint_url(role.endpoint_url.clone().unwrap())
        .force_path_style(true)
        .credentials_provider(shared)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(conf);
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
        .build();
    s3.create_bucket()
        .bucket("profiles-sts-test")
        .create_bucket_configuration(location)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", DisplayErrorContext(e)));
    let listed = s3
        .list_buckets()
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", DisplayErrorContext(e)));
    assert!(
        listed
            .buckets()
            .iter()
            .any(|b| b.name() == Some("profiles-sts-test"))
    );

    // Without a reachable STS the provider fails with a clear error rather than hanging.
    drop(moto);
    let err = credentials_provider(&role.credentials)
        .unwrap()
        .provide_credentials()
        .await
        .unwrap_err();
    let text = DisplayErrorContext(&err).to_string();
    assert!(
        text.contains("STS AssumeRole of arn:aws:iam::123456789012:role/first failed"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// The parser never panics

fn check_parsed(config: &str, credentials: &str) {
    if let Ok(set) = ProfileSet::parse(Some(config), Some(credentials)) {
        for (name, props) in set
            .profiles
            .iter()
            .chain(&set.sso_sessions)
            .chain(&set.services)
        {
            assert!(is_valid_identifier(name), "section name {name:?}");
            for key in props.keys() {
                assert!(
                    is_valid_identifier(key) && !key.bytes().any(|b| b.is_ascii_uppercase()),
                    "key {key:?}"
                );
            }
        }
        let env = ProfileEnv::default();
        for name in set.names() {
            let _ = set.resolve(
                &name,
                &env,
                None,
                ResolveOptions {
                    allow_credential_process: true,
                },
            );
        }
    }
}

fn grammar_token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "[",
        "]",
        "profile ",
        "default",
        "sso-session ",
        "services ",
        "=",
        " ",
        "\t",
        "#",
        ";",
        "\n",
        "\r\n",
        "\r",
        "s3",
        "a",
        "B",
        ":",
        "é",
        "%",
        "\\",
        "\"",
        "role_arn",
        "source_profile",
        "aws_access_key_id",
        "aws_secret_access_key",
        "credential_process",
        "sso_session",
        "endpoint_url",
        "services",
        "\u{feff}",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn parser_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        check_parsed(&text, &text);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, &bytes).unwrap();
        let _ = ProfileSet::load_files(&path, Path::new("/nonexistent/credentials"));
    }

    #[test]
    fn parser_never_panics_on_grammar_shaped_text(tokens in prop::collection::vec(grammar_token(), 0..120)) {
        let text: String = tokens.concat();
        check_parsed(&text, "");
        check_parsed("", &text);
    }

    #[test]
    fn parser_never_panics_on_arbitrary_strings(text in ".{0,300}") {
        check_parsed(&text, &text);
    }
}
