//! PLACEHOLDER until the profiles branch lands.
use std::path::Path;

use super::{ProfileEnv, ProfileError, ProfileSet, ResolveOptions};

pub fn dump(
    _config_file: Option<&Path>,
    _credentials_file: Option<&Path>,
    env: &ProfileEnv,
) -> Result<String, ProfileError> {
    let set = ProfileSet::load(env)?;
    Ok(serde_json::to_string_pretty(
        &serde_json::json!({"profiles": set.profiles, "sso_sessions": set.sso_sessions}),
    )
    .unwrap_or_default())
}

pub fn list(env: &ProfileEnv, _opts: ResolveOptions) -> String {
    ProfileSet::load(env)
        .map(|s| s.names().join("\n"))
        .unwrap_or_default()
}

pub fn show(env: &ProfileEnv, name: &str, opts: ResolveOptions) -> Result<String, ProfileError> {
    let set = ProfileSet::load(env)?;
    let r = set.resolve(name, env, None, opts)?;
    Ok(format!("{} {:?}", r.name, r.region))
}
