//! Turning a named profile into a [`ResolvedProfile`]: region, S3 endpoint, addressing style and
//! the credential source, mapping the SDK-style [`ProfileChain`] onto what rebucket supports.
//! The rules are the AWS SDKs': [region](https://docs.aws.amazon.com/sdkref/latest/guide/feature-region.html),
//! [service-specific endpoints](https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html),
//! [S3 addressing style](https://docs.aws.amazon.com/cli/latest/topics/s3-config.html),
//! [credentials](https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html).
//!
//! Policy decisions (documented for operators):
//! * A bucket's profile is authoritative: the gateway's own `AWS_ACCESS_KEY_ID`/... variables
//!   never override it. They are used only by `credential_source = Environment`.
//! * A selected profile with no credential settings at all resolves to
//!   [`CredentialSource::Anonymous`] (unsigned requests). A *source* profile without
//!   credentials is an error.
//! * `credential_process` needs the operator's opt-in; SSO, web identity, EC2/ECS credential
//!   sources and `mfa_serial` are refused with a "not supported" error.

use std::collections::{BTreeMap, HashMap};

use super::chain::{self, BaseProvider, ChainError, ProfileChain};
use super::endpoint::{self, ClientEndpoint};
use super::parser::sub_properties;
use super::vars;
use super::{
    AddressingStyle, CredentialSource, ProfileEnv, ProfileError, ProfileSet, ResolveOptions,
    ResolvedProfile, StaticCredentials,
};

type Props = BTreeMap<String, String>;

/// How to enable `credential_process`, quoted in the error when it is disabled.
pub const ENABLE_CREDENTIAL_PROCESS_HINT: &str =
    "set `allow_credential_process = true` in the rebucket config file to allow it";

/// Region: `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the profile's `region`.
pub fn resolve_region(props: &Props, vars: &HashMap<String, String>) -> Option<String> {
    vars::var(vars, "AWS_REGION")
        .or_else(|| vars::var(vars, "AWS_DEFAULT_REGION"))
        .or_else(|| vars::non_blank(props.get("region")))
        .map(str::to_owned)
}

/// `addressing_style` from the profile's `s3 =` sub-property block.
pub fn addressing_style(
    name: &str,
    props: &Props,
) -> Result<Option<AddressingStyle>, ProfileError> {
    let Some(block) = props.get("s3") else {
        return Ok(None);
    };
    let Some(style) = sub_properties(block).remove("addressing_style") else {
        return Ok(None);
    };
    match style.to_ascii_lowercase().parse() {
        Ok(style) => Ok(Some(style)),
        Err(_) => Err(ProfileError::Invalid {
            name: name.to_owned(),
            message: format!("s3 addressing_style must be auto, path or virtual, not {style:?}"),
        }),
    }
}

/// Credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, where
/// blank values count as unset. `Ok(None)`: neither key set; `Err`: only one of them.
pub fn env_credentials(
    vars: &HashMap<String, String>,
) -> Result<Option<StaticCredentials>, String> {
    let keys = vars::key_pair(vars, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")?;
    Ok(keys.map(|(id, secret)| StaticCredentials {
        access_key_id: id.to_owned(),
        secret_access_key: secret.to_owned(),
        session_token: vars::var(vars, "AWS_SESSION_TOKEN").map(str::to_owned),
    }))
}

fn base_source(
    selected: &str,
    base: &BaseProvider,
    env: &ProfileEnv,
    opts: ResolveOptions,
) -> Result<CredentialSource, ProfileError> {
    let invalid = |message: String| ProfileError::Invalid {
        name: selected.to_owned(),
        message,
    };
    match base {
        BaseProvider::AccessKey {
            access_key_id,
            secret_access_key,
            session_token,
            ..
        } => Ok(CredentialSource::Static(StaticCredentials {
            access_key_id: access_key_id.clone(),
            secret_access_key: secret_access_key.clone(),
            session_token: session_token.clone(),
        })),
        BaseProvider::NamedSource { profile, source } => match source.as_str() {
            "Environment" => match env_credentials(&env.vars) {
                Ok(Some(keys)) => Ok(CredentialSource::Static(keys)),
                Ok(None) => Err(invalid(format!(
                    "profile `{profile}` has credential_source = Environment, but AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY are not set in rebucket's environment"
                ))),
                Err(e) => Err(invalid(format!(
                    "profile `{profile}` has credential_source = Environment, but {e}"
                ))),
            },
            "Ec2InstanceMetadata" | "EcsContainer" => Err(invalid(format!(
                "profile `{profile}`: credential_source = {source} is not supported by rebucket \
                 (supported: Environment, or source_profile with static keys)"
            ))),
            other => Err(invalid(format!(
                "profile `{profile}`: unknown credential_source {other:?} \
                 (expected Environment, Ec2InstanceMetadata or EcsContainer)"
            ))),
        },
        BaseProvider::WebIdentityToken { profile, .. } => Err(invalid(format!(
            "profile `{profile}` uses web identity (web_identity_token_file), which is not supported by rebucket"
        ))),
        BaseProvider::Sso {
            profile,
            account_id: None,
            ..
        } => Err(invalid(format!(
            "profile `{profile}` has no sso_account_id/sso_role_name: the selected profile will resolve an access \
             token instead of credentials; SSO is not supported by rebucket"
        ))),
        BaseProvider::Sso { profile, .. } => Err(invalid(format!(
            "profile `{profile}` uses SSO (IAM Identity Center), which is not supported by rebucket"
        ))),
        BaseProvider::CredentialProcess {
            profile, command, ..
        } => {
            if opts.allow_credential_process {
                Ok(CredentialSource::Process {
                    command: command.clone(),
                })
            } else {
                Err(invalid(format!(
                    "profile `{profile}` uses credential_process, which is disabled because it runs an arbitrary \
                     command; {ENABLE_CREDENTIAL_PROCESS_HINT}"
                )))
            }
        }
    }
}

/// Maps a chain onto a [`CredentialSource`]; `region`/`sts_endpoint` go into every role hop.
pub fn chain_to_source(
    selected: &str,
    chain: &ProfileChain,
    env: &ProfileEnv,
    opts: ResolveOptions,
    region: Option<&str>,
    sts_endpoint: Option<&str>,
) -> Result<CredentialSource, ProfileError> {
    let mut source = base_source(selected, &chain.base, env, opts)?;
    for hop in &chain.roles {
        let invalid = |message: String| ProfileError::Invalid {
            name: selected.to_owned(),
            message,
        };
        if hop.mfa_serial.is_some() {
            return Err(invalid(format!(
                "profile `{}` sets mfa_serial: roles that need an MFA code are not supported by rebucket",
                hop.profile
            )));
        }
        let duration_seconds = hop
            .duration_seconds
            .as_deref()
            .map(|d| {
                d.trim().parse::<u32>().map_err(|_| {
                    invalid(format!(
                        "profile `{}`: duration_seconds must be a whole number, not {d:?}",
                        hop.profile
                    ))
                })
            })
            .transpose()?;
        source = CredentialSource::AssumeRole {
            role_arn: hop.role_arn.clone(),
            role_session_name: hop.session_name.clone(),
            external_id: hop.external_id.clone(),
            duration_seconds,
            sts_endpoint: sts_endpoint.map(str::to_owned),
            region: region.map(str::to_owned),
            source: Box::new(source),
        };
    }
    Ok(source)
}

fn files_description(set: &ProfileSet) -> String {
    if set.files.is_empty() {
        return "(no profile files)".to_owned();
    }
    set.files
        .iter()
        .map(|f| {
            if f.exists() {
                f.display().to_string()
            } else {
                format!("{} (missing)", f.display())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The body of [`ProfileSet::resolve`].
pub(super) fn resolve(
    set: &ProfileSet,
    name: &str,
    env: &ProfileEnv,
    explicit_endpoint: Option<&str>,
    opts: ResolveOptions,
) -> Result<ResolvedProfile, ProfileError> {
    let props = set
        .profiles
        .get(name)
        .ok_or_else(|| ProfileError::NotFound {
            name: name.to_owned(),
            files: files_description(set),
        })?;
    let region = resolve_region(props, &env.vars);
    let endpoint_url = endpoint::resolve_endpoint_url(
        set,
        name,
        &env.vars,
        "s3",
        ClientEndpoint {
            endpoint_url: explicit_endpoint,
            ignore_configured: false,
        },
    )?;
    let addressing_style = addressing_style(name, props)?;
    let credentials = match chain::resolve_chain(set, name) {
        Ok(chain) => {
            let sts_endpoint = if chain.roles.is_empty() {
                None
            } else {
                endpoint::resolve_endpoint_url(
                    set,
                    name,
                    &env.vars,
                    "sts",
                    ClientEndpoint::default(),
                )?
            };
            chain_to_source(
                name,
                &chain,
                env,
                opts,
                region.as_deref(),
                sts_endpoint.as_deref(),
            )?
        }
        Err(ChainError::NoCredentials { profile }) if profile == name => {
            CredentialSource::Anonymous
        }
        Err(e) => {
            return Err(ProfileError::Invalid {
                name: name.to_owned(),
                message: e.to_string(),
            });
        }
    };
    Ok(ResolvedProfile {
        name: name.to_owned(),
        region,
        endpoint_url,
        addressing_style,
        credentials,
    })
}
