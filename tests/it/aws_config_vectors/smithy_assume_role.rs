//! The smithy-rs assume-role suite: how a profile chain is resolved, and what `resolve` makes of
//! it.

use super::*;

fn opt_insert(obj: &mut serde_json::Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        obj.insert(key.to_owned(), json!(v));
    }
}

/// Our chain in the vectors' `ProfileChain` shape.
fn chain_to_json(chain: &ProfileChain) -> Value {
    let base = match &chain.base {
        BaseProvider::AccessKey {
            access_key_id,
            secret_access_key,
            session_token,
            account_id,
            ..
        } => {
            let mut o = serde_json::Map::new();
            o.insert("access_key_id".into(), json!(access_key_id));
            o.insert("secret_access_key".into(), json!(secret_access_key));
            opt_insert(&mut o, "session_token", session_token);
            opt_insert(&mut o, "account_id", account_id);
            json!({ "AccessKey": o })
        }
        BaseProvider::NamedSource { source, .. } => json!({ "NamedSource": source }),
        BaseProvider::WebIdentityToken {
            role_arn,
            token_file,
            session_name,
            ..
        } => {
            let mut o = serde_json::Map::new();
            o.insert("role_arn".into(), json!(role_arn));
            o.insert("web_identity_token_file".into(), json!(token_file));
            opt_insert(&mut o, "role_session_name", session_name);
            json!({ "WebIdentityToken": o })
        }
        BaseProvider::Sso {
            session_name,
            account_id,
            role_name,
            region,
            start_url,
            ..
        } => {
            let mut o = serde_json::Map::new();
            opt_insert(&mut o, "sso_session", session_name);
            opt_insert(&mut o, "sso_account_id", account_id);
            o.insert("sso_region".into(), json!(region));
            opt_insert(&mut o, "sso_role_name", role_name);
            o.insert("sso_start_url".into(), json!(start_url));
            json!({ "Sso": o })
        }
        BaseProvider::CredentialProcess { command, .. } => json!({ "CredentialProcess": command }),
    };
    let mut out = vec![base];
    for hop in &chain.roles {
        let mut o = serde_json::Map::new();
        o.insert("role_arn".into(), json!(hop.role_arn));
        opt_insert(&mut o, "external_id", &hop.external_id);
        opt_insert(&mut o, "role_session_name", &hop.session_name);
        out.push(json!({ "AssumeRole": o }));
    }
    Value::Array(out)
}

fn depth(source: &CredentialSource) -> usize {
    match source {
        CredentialSource::AssumeRole { source, .. } => 1 + depth(source),
        _ => 0,
    }
}

fn innermost(source: &CredentialSource) -> &CredentialSource {
    match source {
        CredentialSource::AssumeRole { source, .. } => innermost(source),
        other => other,
    }
}

#[test]
fn smithy_assume_role_tests() {
    let _g = light_blocking();
    let doc = read_json(&vectors("smithy-rs/assume-role-tests.json"));
    let cases = doc.as_array().expect("array of cases");
    assert!(cases.len() >= 28);
    let env = ProfileEnv::default();
    let mut failures = Vec::new();
    for case in cases {
        let docs = case["docs"].as_str().unwrap();
        let set = ProfileSet {
            profiles: sections_from_json(&case["input"]["profiles"]),
            sso_sessions: sections_from_json(&case["input"]["sso_sessions"]),
            ..ProfileSet::default()
        };
        let selected = case["input"]["selected_profile"].as_str().unwrap();
        let chain = chain::resolve_chain(&set, selected);
        let resolved = set.resolve(selected, &env, None, ResolveOptions::default());
        if let Some(expected) = case["output"]["Error"].as_str() {
            match &chain {
                Err(e) if e.to_string().contains(expected) => {}
                other => failures.push(format!(
                    "{docs}: expected error {expected:?}, got {other:?}"
                )),
            }
            // resolve must refuse too, except a selected profile with no credential settings at
            // all, which rebucket treats as anonymous.
            let no_creds_at_root = matches!(&chain, Err(chain::ChainError::NoCredentials { profile }) if profile == selected);
            match (&resolved, no_creds_at_root) {
                (Ok(p), true) if p.credentials == CredentialSource::Anonymous => {}
                (Err(ProfileError::NotFound { .. }), false)
                    if !set.profiles.contains_key(selected) => {}
                (Err(ProfileError::Invalid { message, .. }), false)
                    if message.contains(expected) => {}
                other => failures.push(format!("{docs}: resolve gave {other:?}")),
            }
            continue;
        }
        let expected = &case["output"]["ProfileChain"];
        let chain = match chain {
            Ok(chain) => chain,
            Err(e) => {
                failures.push(format!("{docs}: unexpected error {e}"));
                continue;
            }
        };
        if &chain_to_json(&chain) != expected {
            failures.push(format!(
                "{docs}: chain {} != expected {expected}",
                chain_to_json(&chain)
            ));
        }
        // What rebucket makes of the chain: static keys + roles become nested AssumeRole,
        // anything else is refused as not supported.
        match (&chain.base, &resolved) {
            (BaseProvider::AccessKey { access_key_id, .. }, Ok(p)) => {
                assert_eq!(depth(&p.credentials), chain.roles.len(), "{docs}");
                match innermost(&p.credentials) {
                    CredentialSource::Static(k) => {
                        assert_eq!(&k.access_key_id, access_key_id, "{docs}")
                    }
                    other => failures.push(format!("{docs}: innermost source {other:?}")),
                }
                if let CredentialSource::AssumeRole { role_arn, .. } = &p.credentials {
                    assert_eq!(role_arn, &chain.roles.last().unwrap().role_arn, "{docs}");
                }
            }
            (_, Err(ProfileError::Invalid { message, .. }))
                if message.contains("not supported") => {}
            (_, other) => failures.push(format!("{docs}: resolve gave {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
