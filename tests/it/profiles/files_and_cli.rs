//! Locating the files, missing profiles, parse errors, and the CLI's masked output.

use super::*;

#[test]
fn locating_files_missing_profiles_and_parse_errors() {
    let _g = light_blocking();
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
    let _g = light_blocking();
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
    let _g = light_blocking();
    assert_eq!(cli::mask_access_key("AKIAIOSFODNN7EXAMPLE"), "AKIA…MPLE");
    assert_eq!(cli::mask_access_key("abcdefghij"), "ab…ij");
    assert_eq!(cli::mask_access_key("abc"), "…");
}
