//! The smithy-rs end-to-end cases (`profile-provider/*`, `default-credential-provider-chain/*`):
//! a fake file system and environment per case, STS traffic replayed on loopback.

use super::*;

struct FsCase {
    dir: PathBuf,
    env: ProfileEnv,
    test_case: Value,
}

/// Loads a case: `fs/` is `/`, so absolute paths in `env.json` are re-rooted there.
fn load_fs_case(dir: PathBuf) -> FsCase {
    let raw = read_json(&dir.join("env.json"));
    let fs = dir.join("fs");
    let vars = raw
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v = v.as_str().unwrap();
            let v = if k == "HOME" && v.starts_with('/') {
                format!("{}{v}", fs.display())
            } else {
                v.to_owned()
            };
            (k.clone(), v)
        })
        .collect();
    let test_case = read_json(&dir.join("test-case.json"));
    FsCase {
        dir,
        env: ProfileEnv { vars },
        test_case,
    }
}

fn case_names(rel: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(vectors(rel))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// One recorded HTTP exchange of `http-traffic.json`.
#[derive(Debug, Clone)]
struct Exchange {
    uri: String,
    authorization: String,
    body: String,
    status: u16,
    response_body: String,
}

fn recorded_exchanges(dir: &Path) -> Vec<Exchange> {
    let traffic = read_json(&dir.join("http-traffic.json"));
    let mut by_conn: BTreeMap<u64, Exchange> = BTreeMap::new();
    for event in traffic["events"].as_array().unwrap() {
        let conn = event["connection_id"].as_u64().unwrap();
        let ex = by_conn.entry(conn).or_insert_with(|| Exchange {
            uri: String::new(),
            authorization: String::new(),
            body: String::new(),
            status: 0,
            response_body: String::new(),
        });
        let action = &event["action"];
        if let Some(req) = action.get("Request") {
            ex.uri = req["request"]["uri"].as_str().unwrap().to_owned();
            ex.authorization = req["request"]["headers"]["authorization"][0]
                .as_str()
                .unwrap_or("")
                .to_owned();
        } else if let Some(resp) = action.get("Response") {
            ex.status = resp["response"]["Ok"]["status"].as_u64().unwrap() as u16;
        } else if let Some(data) = action.get("Data") {
            let text = data["data"]["Utf8"].as_str().unwrap_or("").to_owned();
            match data["direction"].as_str().unwrap() {
                "Request" => ex.body.push_str(&text),
                _ => ex.response_body.push_str(&text),
            }
        }
    }
    by_conn.into_values().collect()
}

/// A request as the replay server saw it.
#[derive(Debug, Clone)]
struct SeenRequest {
    headers: HashMap<String, String>,
    body: String,
}

/// Serves the recorded responses in order, one per connection, on a loopback port.
async fn replay_server(exchanges: Vec<Exchange>) -> (String, Arc<Mutex<Vec<SeenRequest>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        for ex in exchanges {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let header_end = loop {
                let n = sock.read(&mut chunk).await.unwrap();
                assert!(n > 0, "client closed early");
                buf.extend_from_slice(&chunk[..n]);
                if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break pos + 4;
                }
            };
            let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
            let headers: HashMap<String, String> = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while buf.len() < header_end + len {
                let n = sock.read(&mut chunk).await.unwrap();
                assert!(n > 0, "client closed early");
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&buf[header_end..header_end + len]).to_string();
            seen2.lock().unwrap().push(SeenRequest { headers, body });
            let response = format!(
                "HTTP/1.1 {} X\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                ex.status,
                ex.response_body.len(),
                ex.response_body
            );
            sock.write_all(response.as_bytes()).await.unwrap();
            sock.shutdown().await.ok();
        }
    });
    (url, seen)
}

fn form_param(body: &str, key: &str) -> Option<String> {
    body.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.replace("%3A", ":").replace("%2F", "/"))
    })
}

fn credential_scope(authorization: &str) -> (String, String) {
    // AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...
    let cred = authorization
        .split("Credential=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    let parts: Vec<&str> = cred.split('/').collect();
    (parts[0].to_owned(), parts[2].to_owned())
}

fn with_sts_endpoint(source: &CredentialSource, url: &str) -> CredentialSource {
    match source {
        CredentialSource::AssumeRole {
            role_arn,
            role_session_name,
            external_id,
            duration_seconds,
            region,
            source,
            ..
        } => CredentialSource::AssumeRole {
            role_arn: role_arn.clone(),
            role_session_name: role_session_name.clone(),
            external_id: external_id.clone(),
            duration_seconds: *duration_seconds,
            sts_endpoint: Some(url.to_owned()),
            region: region.clone(),
            source: Box::new(with_sts_endpoint(source, url)),
        },
        other => other.clone(),
    }
}

/// The STS cases: resolve, check the endpoint the SDK would call, replay, compare credentials.
async fn run_sts_case(name: &str, case: &FsCase) {
    let set = ProfileSet::load(&case.env).unwrap();
    let profile = case.env.profile_name();
    let resolved = set
        .resolve(&profile, &case.env, None, ResolveOptions::default())
        .unwrap();
    let CredentialSource::AssumeRole {
        sts_endpoint,
        region,
        source,
        role_arn,
        ..
    } = &resolved.credentials
    else {
        panic!(
            "{name}: expected AssumeRole, got {:?}",
            resolved.credentials
        );
    };
    let exchanges = recorded_exchanges(&case.dir);
    assert!(!exchanges.is_empty(), "{name}: no recorded traffic");
    let recorded_uri = exchanges[0].uri.trim_end_matches('/').to_owned();
    let ours = match sts_endpoint {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!(
            "https://sts.{}.amazonaws.com",
            region.as_deref().unwrap_or("us-east-1")
        ),
    };
    if name == "e2e_fips_and_dual_stack_sts" {
        // LISTED: FIPS/dual-stack STS endpoints are not modelled.
        assert_ne!(ours, recorded_uri);
    } else {
        assert_eq!(ours, recorded_uri, "{name}: STS endpoint");
    }
    assert_eq!(
        Some(role_arn.clone()),
        form_param(&exchanges[0].body, "RoleArn"),
        "{name}: role ARN"
    );
    let CredentialSource::Static(source_keys) = source.as_ref() else {
        panic!("{name}: source {source:?}")
    };
    let (recorded_key, _) = credential_scope(&exchanges[0].authorization);
    assert_eq!(
        source_keys.access_key_id, recorded_key,
        "{name}: signing key"
    );

    let expected_requests = exchanges.len();
    let (url, seen) = replay_server(exchanges).await;
    let provider =
        credentials_provider(&with_sts_endpoint(&resolved.credentials, &url), None).unwrap();
    let creds = provider
        .provide_credentials()
        .await
        .unwrap_or_else(|e| panic!("{name}: {}", DisplayErrorContext(e)));
    let want = &case.test_case["result"]["Ok"];
    assert_eq!(
        creds.access_key_id(),
        want["access_key_id"].as_str().unwrap(),
        "{name}"
    );
    assert_eq!(
        creds.secret_access_key(),
        want["secret_access_key"].as_str().unwrap(),
        "{name}"
    );
    assert_eq!(
        creds.session_token(),
        want["session_token"].as_str(),
        "{name}"
    );
    let expiry = creds.expiry().expect("temporary credentials expire");
    assert_eq!(
        expiry.duration_since(UNIX_EPOCH).unwrap().as_secs(),
        want["expiry"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(
        creds.account_id().map(|a| a.as_str()),
        want["account_id"].as_str(),
        "{name}"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        expected_requests,
        "{name}: one request per recorded exchange (retries included)"
    );
    for req in &seen {
        assert_eq!(
            form_param(&req.body, "Action").as_deref(),
            Some("AssumeRole"),
            "{name}"
        );
        assert_eq!(
            form_param(&req.body, "RoleArn").as_ref(),
            Some(role_arn),
            "{name}"
        );
        let (key, scope_region) = credential_scope(&req.headers["authorization"]);
        assert_eq!(key, source_keys.access_key_id, "{name}");
        assert_eq!(
            Some(scope_region),
            region.clone().or(Some("us-east-1".into())),
            "{name}"
        );
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn error_text(e: &ProfileError) -> String {
    e.to_string()
}

#[tokio::test]
async fn smithy_profile_provider_cases() {
    let _g = light().await;
    let names = case_names("smithy-rs/profile-provider");
    assert_eq!(names.len(), 18);
    let mut ran = Vec::new();
    for name in &names {
        let case = load_fs_case(vectors(&format!("smithy-rs/profile-provider/{name}")));
        let profile = case.env.profile_name();
        let result = &case.test_case["result"];
        match name.as_str() {
            "assume_role_override_global_env_url"
            | "assume_role_override_global_profile_url"
            | "assume_role_override_service_env_url"
            | "assume_role_override_service_profile_url"
            | "e2e_assume_role"
            | "e2e_fips_and_dual_stack_sts"
            | "region_override"
            | "retry_on_error" => run_sts_case(name, &case).await,
            "credential_process" | "credential_process_account_id_fallback" => {
                let set = ProfileSet::load(&case.env).unwrap();
                let props = &set.profiles[&profile];
                let err = set
                    .resolve(&profile, &case.env, None, ResolveOptions::default())
                    .unwrap_err();
                let msg = error_text(&err);
                assert!(
                    msg.contains("credential_process")
                        && msg.contains("allow_credential_process = true"),
                    "{msg}"
                );
                let allowed = ResolveOptions {
                    allow_credential_process: true,
                };
                let resolved = set.resolve(&profile, &case.env, None, allowed).unwrap();
                assert_eq!(
                    resolved.credentials,
                    CredentialSource::Process {
                        command: props["credential_process"].clone()
                    },
                    "{name}"
                );
                // Not executed (SOURCES.md): decode what `echo <b64> | base64 --decode` prints.
                let command = &props["credential_process"];
                let b64 = command.split_whitespace().nth(1).unwrap();
                let json_text = String::from_utf8(base64_decode(b64)).unwrap();
                let parsed = process::parse_output(
                    &json_text,
                    props.get("aws_account_id").map(String::as_str),
                )
                .unwrap();
                let want = &result["Ok"];
                let c = &parsed.credentials;
                assert_eq!(c.access_key_id(), want["access_key_id"].as_str().unwrap());
                assert_eq!(
                    c.secret_access_key(),
                    want["secret_access_key"].as_str().unwrap()
                );
                assert_eq!(c.session_token(), want["session_token"].as_str());
                let expiry = c
                    .expiry()
                    .unwrap()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                assert_eq!(expiry, want["expiry"].as_u64().unwrap());
                assert_eq!(
                    parsed.account_id.as_deref(),
                    want["account_id"].as_str(),
                    "{name}"
                );
            }
            "credential_process_failure" | "credential_process_invalid" => {
                let set = ProfileSet::load(&case.env).unwrap();
                let allowed = ResolveOptions {
                    allow_credential_process: true,
                };
                let resolved = set.resolve(&profile, &case.env, None, allowed).unwrap();
                let CredentialSource::Process { command } = &resolved.credentials else {
                    panic!("{name}")
                };
                // Equivalent commands written here, not read from the vector.
                let ours = if name == "credential_process_failure" {
                    "exit 1"
                } else {
                    "echo 'invalid json'"
                };
                assert_eq!(
                    command, ours,
                    "{name}: the vector's command is the one we run ourselves"
                );
                let provider = credentials_provider(
                    &CredentialSource::Process {
                        command: ours.into(),
                    },
                    None,
                )
                .unwrap();
                let err = provider.provide_credentials().await.unwrap_err();
                let text = DisplayErrorContext(&err).to_string();
                let want = result["ErrorContains"].as_str().unwrap();
                assert!(
                    text.contains(want),
                    "{name}: {text:?} does not contain {want:?}"
                );
            }
            "empty_config" => {
                let set = ProfileSet::load(&case.env).unwrap();
                assert!(set.profiles.is_empty());
                match set.resolve(&profile, &case.env, None, ResolveOptions::default()) {
                    Err(ProfileError::NotFound { name: n, files }) => {
                        assert_eq!(n, "default");
                        assert!(
                            files.contains(".aws/config") && files.contains(".aws/credentials"),
                            "{files}"
                        );
                    }
                    other => panic!("{name}: {other:?}"),
                }
            }
            "invalid_config" => match ProfileSet::load(&case.env) {
                Err(ProfileError::Parse {
                    path,
                    line,
                    message,
                }) => {
                    assert!(path.ends_with(".aws/config"), "{}", path.display());
                    assert_eq!(line, 2);
                    assert_eq!(message, "Property did not have a name");
                }
                other => panic!("{name}: {other:?}"),
            },
            "invalid_sso_credentials_config"
            | "sso_token"
            | "sso_credentials"
            | "sso_override_global_env_url" => {
                let set = ProfileSet::load(&case.env).unwrap();
                let err = set
                    .resolve(&profile, &case.env, None, ResolveOptions::default())
                    .unwrap_err();
                let msg = error_text(&err);
                assert!(msg.contains("not supported"), "{name}: {msg}");
                if let Some(want) = result["ErrorContains"].as_str() {
                    assert!(
                        msg.contains(want),
                        "{name}: {msg:?} does not contain {want:?}"
                    );
                }
                // Never mistaken for static keys, even when allowed to run processes.
                let allowed = ResolveOptions {
                    allow_credential_process: true,
                };
                assert!(set.resolve(&profile, &case.env, None, allowed).is_err());
            }
            other => panic!("profile-provider case {other} is not mapped"),
        }
        ran.push(name.clone());
    }
    assert_eq!(ran.len(), 18);
}

#[test]
fn smithy_default_chain_cases() {
    let _g = light_blocking();
    let names = case_names("smithy-rs/default-credential-provider-chain");
    assert_eq!(names.len(), 5);
    for name in &names {
        let case = load_fs_case(vectors(&format!(
            "smithy-rs/default-credential-provider-chain/{name}"
        )));
        let want = &case.test_case["result"]["Ok"];
        let want_key = want["access_key_id"].as_str().unwrap();
        let want_secret = want["secret_access_key"].as_str().unwrap();
        let set = ProfileSet::load(&case.env).unwrap();
        let profile = case.env.profile_name();
        let resolved = set
            .resolve(&profile, &case.env, None, ResolveOptions::default())
            .unwrap();
        let from_env = env_credentials(&case.env.vars).unwrap();
        if name == "prefer_environment" {
            let keys = from_env.expect("environment credentials");
            assert_eq!(
                (keys.access_key_id.as_str(), keys.secret_access_key.as_str()),
                (want_key, want_secret)
            );
            // rebucket policy: the profile is not overridden by the environment.
            assert!(
                matches!(resolved.credentials, CredentialSource::AssumeRole { .. }),
                "{name}"
            );
        } else {
            assert!(
                from_env.is_none(),
                "{name}: blank environment credentials count as unset"
            );
            match &resolved.credentials {
                CredentialSource::Static(k) => {
                    assert_eq!(
                        (k.access_key_id.as_str(), k.secret_access_key.as_str()),
                        (want_key, want_secret),
                        "{name}"
                    )
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
