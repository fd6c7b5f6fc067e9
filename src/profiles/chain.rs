//! Which credentials a profile stands for ([standardized credentials](https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html)), as a chain: a *base* provider (static
//! keys, a named `credential_source`, web identity, SSO, `credential_process`) followed by the
//! roles to assume with it, in order. This mirrors the SDKs' model (and the shape of
//! `assume-role-tests.json`); [`super::resolve`] then maps it onto [`super::CredentialSource`],
//! refusing what rebucket does not support.
//!
//! Rules: in the *selected* profile `role_arn` + `source_profile`/`credential_source` win over
//! static keys; in a *source* profile further down, static keys win over its own `role_arn`.
//! `source_profile` naming the profile itself means "use my own keys". Loops are errors.

use std::collections::BTreeMap;
use std::fmt;

use super::ProfileSet;

type Props = BTreeMap<String, String>;

/// Where the chain starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseProvider {
    /// `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`).
    AccessKey {
        profile: String,
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        account_id: Option<String>,
    },
    /// `credential_source = Environment | Ec2InstanceMetadata | EcsContainer`.
    NamedSource { profile: String, source: String },
    /// `role_arn` + `web_identity_token_file`.
    WebIdentityToken {
        profile: String,
        role_arn: String,
        token_file: String,
        session_name: Option<String>,
    },
    /// IAM Identity Center (`sso_*`, possibly through an `[sso-session]`).
    Sso {
        profile: String,
        session_name: Option<String>,
        account_id: Option<String>,
        role_name: Option<String>,
        region: String,
        start_url: String,
    },
    /// `credential_process = <command>`.
    CredentialProcess {
        profile: String,
        command: String,
        account_id: Option<String>,
    },
}

/// One role to assume, from the profile that declared `role_arn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleHop {
    pub profile: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
    pub duration_seconds: Option<String>,
    pub mfa_serial: Option<String>,
}

/// A resolved chain: `base`, then each of `roles` in order (the last is the selected profile's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileChain {
    pub base: BaseProvider,
    pub roles: Vec<RoleHop>,
}

/// Why no chain could be built. Messages follow smithy-rs, which the vectors quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// The set has no profiles at all.
    NoProfiles,
    /// The selected profile, or a `source_profile`, does not exist.
    MissingProfile {
        profile: String,
        referenced_from: Option<String>,
    },
    /// `source_profile` references form a cycle.
    Loop { visited: Vec<String>, next: String },
    /// The profile has neither keys nor any other credential setting.
    NoCredentials { profile: String },
    /// Contradictory or incomplete settings (partial keys, both/neither source, ...).
    Invalid { profile: String, message: String },
    /// `sso_session` names an `[sso-session]` that does not exist.
    MissingSsoSession { profile: String, session: String },
}

impl ChainError {
    /// The profile the error is about.
    pub fn profile(&self) -> Option<&str> {
        match self {
            ChainError::NoProfiles => None,
            ChainError::MissingProfile { profile, .. }
            | ChainError::NoCredentials { profile }
            | ChainError::Invalid { profile, .. }
            | ChainError::MissingSsoSession { profile, .. } => Some(profile),
            ChainError::Loop { next, .. } => Some(next),
        }
    }
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::NoProfiles => write!(f, "No profiles were defined"),
            ChainError::MissingProfile {
                profile,
                referenced_from: Some(from),
            } => {
                write!(
                    f,
                    "could not find source profile {profile} referenced from {from}"
                )
            }
            ChainError::MissingProfile {
                profile,
                referenced_from: None,
            } => {
                write!(f, "profile `{profile}` was not defined")
            }
            ChainError::Loop { visited, next } => write!(
                f,
                "profile formed an infinite loop: first we loaded {visited:?}, then attempted to reload {next}"
            ),
            ChainError::NoCredentials { profile } => {
                write!(
                    f,
                    "profile `{profile}` did not contain credential information"
                )
            }
            ChainError::Invalid { profile, message } => write!(f, "profile `{profile}`: {message}"),
            ChainError::MissingSsoSession { profile, session } => write!(
                f,
                "sso-session named `{session}` (referenced by profile `{profile}`) was not found"
            ),
        }
    }
}

impl std::error::Error for ChainError {}

fn get<'a>(props: &'a Props, key: &str) -> Option<&'a str> {
    props.get(key).map(String::as_str)
}

fn invalid(profile: &str, message: impl Into<String>) -> ChainError {
    ChainError::Invalid {
        profile: profile.to_owned(),
        message: message.into(),
    }
}

/// Static keys of a profile: `Ok(None)` if it has none at all, an error if they are partial.
fn static_keys(name: &str, props: &Props) -> Result<Option<BaseProvider>, ChainError> {
    let access = get(props, "aws_access_key_id");
    let secret = get(props, "aws_secret_access_key");
    let token = get(props, "aws_session_token").or_else(|| get(props, "aws_security_token"));
    match (access, secret, token) {
        (None, None, None) => Ok(None),
        (None, _, _) => Err(invalid(name, "profile missing aws_access_key_id")),
        (Some(_), None, _) => Err(invalid(name, "profile missing aws_secret_access_key")),
        (Some(a), Some(s), t) => Ok(Some(BaseProvider::AccessKey {
            profile: name.to_owned(),
            access_key_id: a.to_owned(),
            secret_access_key: s.to_owned(),
            session_token: t.map(str::to_owned),
            account_id: get(props, "aws_account_id").map(str::to_owned),
        })),
    }
}

fn web_identity(name: &str, props: &Props) -> Option<Result<BaseProvider, ChainError>> {
    let token_file = get(props, "web_identity_token_file")?;
    Some(match get(props, "role_arn") {
        Some(role_arn) => Ok(BaseProvider::WebIdentityToken {
            profile: name.to_owned(),
            role_arn: role_arn.to_owned(),
            token_file: token_file.to_owned(),
            session_name: get(props, "role_session_name").map(str::to_owned),
        }),
        None => Err(invalid(name, "`role_arn` was missing")),
    })
}

fn sso(set: &ProfileSet, name: &str, props: &Props) -> Option<Result<BaseProvider, ChainError>> {
    let account_id = get(props, "sso_account_id");
    let role_name = get(props, "sso_role_name");
    let mut region = get(props, "sso_region");
    let mut start_url = get(props, "sso_start_url");
    let session_name = get(props, "sso_session");
    if [account_id, role_name, region, start_url, session_name]
        .iter()
        .all(Option::is_none)
    {
        return None;
    }
    let only_in_session = |key: &str| {
        invalid(
            name,
            format!(
                "`{key}` can only be specified in the [sso-session] config when a session name is given"
            ),
        )
    };
    if let Some(session_name) = session_name {
        if start_url.is_some() {
            return Some(Err(only_in_session("sso_start_url")));
        }
        if region.is_some() {
            return Some(Err(only_in_session("sso_region")));
        }
        let Some(session) = set.sso_sessions.get(session_name) else {
            return Some(Err(ChainError::MissingSsoSession {
                profile: name.to_owned(),
                session: session_name.to_owned(),
            }));
        };
        start_url = get(session, "sso_start_url");
        region = get(session, "sso_region");
    }
    let both = |set_key: &str, missing: &str| {
        invalid(
            name,
            format!("if `{set_key}` is set, then `{missing}` must also be set"),
        )
    };
    match (account_id, role_name) {
        (Some(_), None) => return Some(Err(both("sso_account_id", "sso_role_name"))),
        (None, Some(_)) => return Some(Err(both("sso_role_name", "sso_account_id"))),
        _ => {}
    }
    let Some(region) = region else {
        return Some(Err(invalid(name, "`sso_region` was missing")));
    };
    let Some(start_url) = start_url else {
        return Some(Err(invalid(name, "`sso_start_url` was missing")));
    };
    Some(Ok(BaseProvider::Sso {
        profile: name.to_owned(),
        session_name: session_name.map(str::to_owned),
        account_id: account_id.map(str::to_owned),
        role_name: role_name.map(str::to_owned),
        region: region.to_owned(),
        start_url: start_url.to_owned(),
    }))
}

/// The credentials a profile provides on its own (no `role_arn` involved).
fn base_provider(set: &ProfileSet, name: &str, props: &Props) -> Result<BaseProvider, ChainError> {
    if let Some(source) = get(props, "credential_source") {
        return Ok(BaseProvider::NamedSource {
            profile: name.to_owned(),
            source: source.to_owned(),
        });
    }
    if let Some(result) = web_identity(name, props) {
        return result;
    }
    if let Some(result) = sso(set, name, props) {
        return result;
    }
    if let Some(command) = get(props, "credential_process") {
        return Ok(BaseProvider::CredentialProcess {
            profile: name.to_owned(),
            command: command.to_owned(),
            account_id: get(props, "aws_account_id").map(str::to_owned),
        });
    }
    static_keys(name, props)?.ok_or_else(|| ChainError::NoCredentials {
        profile: name.to_owned(),
    })
}

/// `role_arn` of a profile that chains (web identity profiles are bases, not hops).
fn role_hop(name: &str, props: &Props) -> Option<RoleHop> {
    if props.contains_key("web_identity_token_file") {
        return None;
    }
    let owned = |k: &str| get(props, k).map(str::to_owned);
    Some(RoleHop {
        profile: name.to_owned(),
        role_arn: owned("role_arn")?,
        external_id: owned("external_id"),
        session_name: owned("role_session_name"),
        duration_seconds: owned("duration_seconds"),
        mfa_serial: owned("mfa_serial"),
    })
}

/// Resolves the chain for `selected`.
pub fn resolve_chain(set: &ProfileSet, selected: &str) -> Result<ProfileChain, ChainError> {
    if set.profiles.is_empty() {
        return Err(ChainError::NoProfiles);
    }
    let mut visited: Vec<String> = Vec::new();
    let mut roles = Vec::new();
    let mut current = selected.to_owned();
    let base = loop {
        let Some(props) = set.profiles.get(&current) else {
            return Err(ChainError::MissingProfile {
                profile: current,
                referenced_from: visited.last().cloned(),
            });
        };
        if visited.contains(&current) {
            return Err(ChainError::Loop {
                visited,
                next: current,
            });
        }
        visited.push(current.clone());
        let is_source = visited.len() > 1;
        if is_source {
            // Further down the chain, a profile's own keys win over its role_arn. Partial keys
            // fall through: they are reported if the profile is used as a base below.
            if let Ok(Some(keys)) = static_keys(&current, props) {
                break keys;
            }
        }
        let Some(hop) = role_hop(&current, props) else {
            break base_provider(set, &current, props).map_err(|e| match e {
                ChainError::NoCredentials { .. } if is_source => {
                    invalid(&current, format!("could not load source profile: {e}"))
                }
                e => e,
            })?;
        };
        roles.push(hop);
        match (
            get(props, "source_profile"),
            get(props, "credential_source"),
        ) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    &current,
                    "profile contained both source_profile and credential_source. Only one or the other can be defined",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    &current,
                    "profile must contain `source_profile` or `credential_source` but neither were defined",
                ));
            }
            // A profile that is its own source, or has a credential_source: its base is itself.
            (Some(source), None) if source == current => {
                break base_provider(set, &current, props)?;
            }
            (None, Some(_)) => break base_provider(set, &current, props)?,
            (Some(source), None) => current = source.to_owned(),
        }
    };
    roles.reverse();
    Ok(ProfileChain { base, roles })
}
