//! The smithy-rs profile-file parser suite and the file-location suite.

use super::*;

#[test]
fn smithy_profile_parser_tests() {
    let _g = light_blocking();
    let doc = read_json(&vectors("smithy-rs/profile-parser-tests.json"));
    let tests = doc["tests"].as_array().expect("tests array");
    assert_eq!(
        tests.len(),
        49,
        "the folder holds 49 of the 65 upstream cases"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, case) in tests.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let config = case["input"]["configFile"].as_str();
        let credentials = case["input"]["credentialsFile"].as_str();
        let parsed = ProfileSet::parse(config, credentials);

        // The same input through real files and the CLI dump.
        let cfg_path = dir.path().join(format!("config-{i}"));
        let cred_path = dir.path().join(format!("credentials-{i}"));
        if let Some(text) = config {
            std::fs::write(&cfg_path, text).unwrap();
        }
        if let Some(text) = credentials {
            std::fs::write(&cred_path, text).unwrap();
        }
        let dumped = cli::dump(Some(&cfg_path), Some(&cred_path), &ProfileEnv::default());

        if let Some(expected) = case["output"]["errorContaining"].as_str() {
            match (&parsed, &dumped) {
                (
                    Err(ProfileError::Parse { message, line, .. }),
                    Err(ProfileError::Parse { message: m2, .. }),
                ) if message.contains(expected) && m2 == message && *line >= 1 => {}
                _ => failures.push(format!(
                    "{name}: expected error containing {expected:?}, got {parsed:?} / {dumped:?}"
                )),
            }
            continue;
        }
        let set = match parsed {
            Ok(set) => set,
            Err(e) => {
                failures.push(format!("{name}: unexpected error {e}"));
                continue;
            }
        };
        let expected = &case["output"]["config"];
        let want_profiles = sections_from_json(&expected["profiles"]);
        if set.profiles != want_profiles {
            failures.push(format!(
                "{name}: profiles {:?} != expected {:?}",
                set.profiles, want_profiles
            ));
        }
        if let Some(sso) = expected.get("sso_sessions") {
            let want = sections_from_json(sso);
            if set.sso_sessions != want {
                failures.push(format!(
                    "{name}: sso_sessions {:?} != expected {want:?}",
                    set.sso_sessions
                ));
            }
        }
        match dumped.map(|s| serde_json::from_str::<Value>(&s).unwrap()) {
            Ok(v) => {
                if v["profiles"] != sections_to_json(&want_profiles) {
                    failures.push(format!("{name}: dump profiles {} differ", v["profiles"]));
                }
                if let Some(sso) = expected.get("sso_sessions")
                    && &v["sso_sessions"] != sso
                {
                    failures.push(format!(
                        "{name}: dump sso_sessions {} differ",
                        v["sso_sessions"]
                    ));
                }
            }
            Err(e) => failures.push(format!("{name}: dump failed: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn smithy_file_location_tests() {
    let _g = light_blocking();
    let doc = read_json(&vectors("smithy-rs/file-location-tests.json"));
    let tests = doc["tests"].as_array().expect("tests array");
    assert!(tests.len() >= 9);
    for case in tests {
        let name = case["name"].as_str().unwrap();
        let vars: HashMap<String, String> = case["environment"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let platform = match case["platform"].as_str().unwrap() {
            "windows" => Platform::Windows,
            "linux" | "macos" => Platform::Unix,
            other => panic!("{name}: unknown platform {other}"),
        };
        assert_eq!(
            location::config_file(&vars, platform),
            case["configLocation"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            location::credentials_file(&vars, platform),
            case["credentialsLocation"].as_str().unwrap(),
            "{name}"
        );
        if let Some(profile) = case["profile"].as_str() {
            assert_eq!(location::profile_name(&vars), profile, "{name}");
        }
        if platform == Platform::Unix {
            let env = ProfileEnv { vars: vars.clone() };
            assert_eq!(
                env.config_file(),
                PathBuf::from(case["configLocation"].as_str().unwrap()),
                "{name}"
            );
        }
    }
}
