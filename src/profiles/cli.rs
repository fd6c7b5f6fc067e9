//! Text for the `rebucket profiles` commands: `dump` (the parsed files as JSON, in the shape of
//! the parser test vectors), `list` (one line per profile) and `show` (one resolved profile).
//! `list` and `show` mask secrets: access key ids are shortened, secret keys and session
//! tokens are never printed. `dump` prints the files' values as parsed (it is a parser view of
//! files the operator can read anyway).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value};

use super::{
    AddressingStyle, CredentialSource, ProfileEnv, ProfileError, ProfileSet, ResolveOptions,
};

fn to_json(
    map: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
) -> Value {
    Value::Object(
        map.iter()
            .map(|(name, props)| {
                let props = props
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                (name.clone(), Value::Object(props))
            })
            .collect(),
    )
}

/// The parsed and merged files as pretty JSON:
/// `{"profiles": {NAME: {key: value}}, "sso_sessions": {...}}`, plus `"services"` when the
/// config file has `[services]` sections. Sub-property blocks are the raw text (`"\nk = v"`).
/// Paths default to the ones `env` locates.
pub fn dump(
    config_file: Option<&Path>,
    credentials_file: Option<&Path>,
    env: &ProfileEnv,
) -> Result<String, ProfileError> {
    let config = config_file
        .map(Path::to_owned)
        .unwrap_or_else(|| env.config_file());
    let credentials = credentials_file
        .map(Path::to_owned)
        .unwrap_or_else(|| env.credentials_file());
    let set = ProfileSet::load_files(&config, &credentials)?;
    let mut out = Map::new();
    out.insert("profiles".into(), to_json(&set.profiles));
    out.insert("sso_sessions".into(), to_json(&set.sso_sessions));
    if !set.services.is_empty() {
        out.insert("services".into(), to_json(&set.services));
    }
    Ok(serde_json::to_string_pretty(&Value::Object(out)).expect("JSON of strings serialises"))
}

/// An access key id shortened for display, e.g. `AKIA…WXYZ`: at most 4 characters at each end,
/// and never more than 40% of the key.
pub fn mask_access_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let shown = (chars.len() / 5).min(4);
    if shown == 0 {
        return "…".to_owned();
    }
    let head: String = chars[..shown].iter().collect();
    let tail: String = chars[chars.len() - shown..].iter().collect();
    format!("{head}…{tail}")
}

/// A one-line description of a credential source, without secrets.
pub fn describe_source(source: &CredentialSource) -> String {
    match source {
        CredentialSource::Anonymous => "anonymous (unsigned)".to_owned(),
        CredentialSource::Static(k) => {
            let token = if k.session_token.is_some() {
                " +session-token"
            } else {
                ""
            };
            format!("static {}{token}", mask_access_key(&k.access_key_id))
        }
        CredentialSource::AssumeRole {
            role_arn, source, ..
        } => {
            format!("assume-role {role_arn} via {}", describe_source(source))
        }
        CredentialSource::Process { .. } => "credential_process".to_owned(),
    }
}

fn or_dash(v: Option<&str>) -> &str {
    v.unwrap_or("-")
}

/// One line per profile: name, region, endpoint and credential source (masked). Profiles that
/// do not resolve show their error instead. A file that does not parse gives one `error:` line.
pub fn list(env: &ProfileEnv, opts: ResolveOptions) -> String {
    let set = match ProfileSet::load(env) {
        Ok(set) => set,
        Err(e) => return format!("error: {e}\n"),
    };
    let width = set
        .profiles
        .keys()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for name in set.names() {
        let _ = match set.resolve(&name, env, None, opts) {
            Ok(p) => writeln!(
                out,
                "{name:<width$}  region={}  endpoint={}  credentials={}",
                or_dash(p.region.as_deref()),
                or_dash(p.endpoint_url.as_deref()),
                describe_source(&p.credentials)
            ),
            Err(e) => writeln!(out, "{name:<width$}  error: {e}"),
        };
    }
    out
}

fn write_source(out: &mut String, source: &CredentialSource, indent: usize) {
    let pad = " ".repeat(indent);
    match source {
        CredentialSource::Anonymous => {
            let _ = writeln!(out, "anonymous (requests are sent unsigned)");
        }
        CredentialSource::Static(k) => {
            let _ = writeln!(out, "static");
            let _ = writeln!(
                out,
                "{pad}access_key_id: {}",
                mask_access_key(&k.access_key_id)
            );
            let _ = writeln!(out, "{pad}secret_access_key: (set, hidden)");
            let token = if k.session_token.is_some() {
                "(set, hidden)"
            } else {
                "-"
            };
            let _ = writeln!(out, "{pad}session_token: {token}");
        }
        CredentialSource::AssumeRole { .. } => {
            let Some((role, inner)) = source.assume_role() else {
                return;
            };
            let _ = writeln!(out, "assume-role");
            let _ = writeln!(out, "{pad}role_arn: {}", role.role_arn);
            let _ = writeln!(
                out,
                "{pad}role_session_name: {}",
                or_dash(role.session_name.as_deref())
            );
            let _ = writeln!(
                out,
                "{pad}external_id: {}",
                or_dash(role.external_id.as_deref())
            );
            let duration = role.duration_seconds.map(|d| d.to_string());
            let _ = writeln!(
                out,
                "{pad}duration_seconds: {}",
                or_dash(duration.as_deref())
            );
            let _ = writeln!(
                out,
                "{pad}sts_endpoint: {}",
                role.endpoint.as_deref().unwrap_or("(AWS default)")
            );
            let _ = writeln!(
                out,
                "{pad}sts_region: {}",
                role.region
                    .as_deref()
                    .unwrap_or(super::sts::DEFAULT_STS_REGION)
            );
            let _ = write!(out, "{pad}source: ");
            write_source(out, inner, indent + 2);
        }
        CredentialSource::Process { command } => {
            let program = command.split_whitespace().next().unwrap_or("");
            let _ = writeln!(out, "credential_process");
            let _ = writeln!(out, "{pad}program: {program} (arguments hidden)");
        }
    }
}

/// Every resolved field of one profile, secrets masked.
pub fn show(env: &ProfileEnv, name: &str, opts: ResolveOptions) -> Result<String, ProfileError> {
    let set = ProfileSet::load(env)?;
    let p = set.resolve(name, env, None, opts)?;
    let mut out = String::new();
    let _ = writeln!(out, "profile: {}", p.name);
    let _ = writeln!(out, "region: {}", or_dash(p.region.as_deref()));
    let _ = writeln!(
        out,
        "endpoint_url: {}",
        p.endpoint_url.as_deref().unwrap_or("(AWS default)")
    );
    let style = p.addressing_style.map_or("-", AddressingStyle::as_str);
    let _ = writeln!(out, "addressing_style: {style}");
    let _ = write!(out, "credentials: ");
    write_source(&mut out, &p.credentials, 2);
    Ok(out)
}
