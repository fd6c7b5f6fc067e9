//! Credential sources: static keys, anonymous, role chains, refused SSO and web identity,
//! credential_process, and the addressing-style sub-property.

use super::*;

#[test]
fn static_keys_partial_keys_and_session_token() {
    let _g = light_blocking();
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
    let _g = light_blocking();
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
    let _g = light_blocking();
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
    let _g = light_blocking();
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
    let _g = light().await;
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
    let creds = credentials_provider(&r.credentials, None)
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

    let bad = credentials_provider(
        &CredentialSource::Process {
            command: r#"echo '{"Version": 2}'"#.into(),
        },
        None,
    )
    .unwrap();
    let err = DisplayErrorContext(bad.provide_credentials().await.unwrap_err()).to_string();
    assert!(err.contains("unknown version number"), "{err}");
}

#[test]
fn addressing_style_sub_property() {
    let _g = light_blocking();
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
