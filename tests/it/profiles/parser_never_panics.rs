//! A property test: the parser never panics, whatever the input.

use super::*;

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
        let _g = light_blocking();
        let text = String::from_utf8_lossy(&bytes);
        check_parsed(&text, &text);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, &bytes).unwrap();
        let _ = ProfileSet::load_files(&path, Path::new("/nonexistent/credentials"));
    }

    #[test]
    fn parser_never_panics_on_grammar_shaped_text(tokens in prop::collection::vec(grammar_token(), 0..120)) {
        let _g = light_blocking();
        let text: String = tokens.concat();
        check_parsed(&text, "");
        check_parsed("", &text);
    }

    #[test]
    fn parser_never_panics_on_arbitrary_strings(text in ".{0,300}") {
        let _g = light_blocking();
        check_parsed(&text, &text);
    }
}
