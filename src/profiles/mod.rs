//! The AWS shared `config` and `credentials` files: locating, parsing (a line pass that
//! implements the SDK grammar in front of `rust-ini`) and resolving a named profile into what
//! an upstream client needs (credentials source, region, endpoint, addressing style).
//!
//! The public types below are the interface the gateway is written against. The work is split:
//! - [`location`]: where the files are (`AWS_CONFIG_FILE`, `HOME`, `~`);
//! - `grammar` (private): the line pass with the AWS grammar and its hard errors;
//! - [`parser`]: rust-ini, section rules per file kind, merging the two files;
//! - [`chain`]: which credentials a profile stands for (keys, roles, SSO, ...);
//! - [`endpoint`]: configured endpoint URLs for a service (`s3`, `sts`);
//! - [`resolve`]: region, endpoint, addressing style and credential source of a profile;
//! - [`sts`], [`process`]: the AssumeRole and `credential_process` credential providers;
//! - [`vars`]: blank-is-unset reading of variables, paired variables;
//! - [`cli`]: `dump`, `list` and `show` for the command line.

pub mod chain;
pub mod cli;
pub mod endpoint;
mod grammar;
pub mod location;
pub mod parser;
pub mod process;
pub mod resolve;
pub mod sts;
pub mod vars;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use self::location::Platform;
use self::parser::{FileKind, parse_file};

/// Why the profile files could not be read or a profile not resolved.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A hard parse error; names the file and the 1-based line.
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The named profile is in neither file.
    #[error("profile {name:?} not found in {files}")]
    NotFound { name: String, files: String },
    /// The profile is present but unusable (partial keys, role loop, disabled credential_process, ...).
    #[error("profile {name:?}: {message}")]
    Invalid { name: String, message: String },
}

/// The process environment as far as profiles care (files, endpoint and region variables).
#[derive(Debug, Clone, Default)]
pub struct ProfileEnv {
    /// Environment variables (`HOME`, `AWS_CONFIG_FILE`, `AWS_ENDPOINT_URL`, ...).
    pub vars: HashMap<String, String>,
}

impl ProfileEnv {
    /// Snapshot of the current process environment.
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }
    /// An environment made of the given variables (for tests and tools).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
    /// Path of the config file (`AWS_CONFIG_FILE`, else `~/.aws/config`).
    pub fn config_file(&self) -> PathBuf {
        PathBuf::from(location::config_file(&self.vars, Platform::current()))
    }
    /// Path of the credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`).
    pub fn credentials_file(&self) -> PathBuf {
        PathBuf::from(location::credentials_file(&self.vars, Platform::current()))
    }
    /// The profile the environment selects: `AWS_PROFILE`, else `default`.
    pub fn profile_name(&self) -> String {
        location::profile_name(&self.vars)
    }
}

/// Reads a file that may be missing (`Ok(None)`); bytes that are not UTF-8 are a parse error.
fn read_optional(path: &Path) -> Result<Option<String>, ProfileError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ProfileError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Some(text)),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..valid]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            Err(ProfileError::Parse {
                path: path.to_owned(),
                line,
                message: "the file is not valid UTF-8".into(),
            })
        }
    }
}

/// The parsed and merged shared files.
#[derive(Debug, Clone, Default)]
pub struct ProfileSet {
    /// profile name -> lower-cased property -> value (sub-property blocks as raw text).
    pub profiles: BTreeMap<String, BTreeMap<String, String>>,
    /// sso-session name -> properties.
    pub sso_sessions: BTreeMap<String, BTreeMap<String, String>>,
    /// services name -> properties.
    pub services: BTreeMap<String, BTreeMap<String, String>>,
    /// The files read, for error messages.
    pub files: Vec<PathBuf>,
}

/// S3 addressing style: the `s3 = addressing_style` sub-property of a profile, and a bucket's
/// `addressing_style` property. See "s3" in
/// <https://docs.aws.amazon.com/cli/latest/topic/s3-config.html>.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressingStyle {
    /// No preference: whatever the next rule says (for rebucket: path-style for a configured
    /// endpoint, virtual-hosted-style for AWS).
    Auto,
    Path,
    Virtual,
}

impl AddressingStyle {
    /// Every style, in the order messages list them.
    pub const ALL: [AddressingStyle; 3] = [Self::Auto, Self::Path, Self::Virtual];

    /// `auto`, `path` or `virtual`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Path => "path",
            Self::Virtual => "virtual",
        }
    }

    /// Whether requests are path-style: `None` for [`AddressingStyle::Auto`] (no preference).
    pub fn path_style(self) -> Option<bool> {
        match self {
            Self::Auto => None,
            Self::Path => Some(true),
            Self::Virtual => Some(false),
        }
    }
}

impl std::fmt::Display for AddressingStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An addressing style other than `auto`, `path` and `virtual` (exact, lowercase).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expecting one of auto, path, virtual")]
pub struct UnknownAddressingStyle;

impl std::str::FromStr for AddressingStyle {
    type Err = UnknownAddressingStyle;

    fn from_str(s: &str) -> Result<Self, UnknownAddressingStyle> {
        Self::ALL
            .into_iter()
            .find(|style| style.as_str() == s)
            .ok_or(UnknownAddressingStyle)
    }
}

impl serde::Serialize for AddressingStyle {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Static keys.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Where a profile's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CredentialSource {
    /// No credentials: requests are sent unsigned.
    Anonymous,
    Static(StaticCredentials),
    /// STS AssumeRole with the credentials of `source`.
    AssumeRole {
        role_arn: String,
        role_session_name: Option<String>,
        external_id: Option<String>,
        duration_seconds: Option<u32>,
        /// The STS endpoint (resolved for service `sts` with the same precedence), if any.
        sts_endpoint: Option<String>,
        region: Option<String>,
        source: Box<CredentialSource>,
    },
    /// `credential_process` (only when the operator enabled it).
    Process {
        command: String,
    },
}

impl CredentialSource {
    /// For an `AssumeRole` source: the STS call it makes and the source that signs that call.
    pub fn assume_role(&self) -> Option<(sts::AssumeRoleParams, &CredentialSource)> {
        let CredentialSource::AssumeRole {
            role_arn,
            role_session_name,
            external_id,
            duration_seconds,
            sts_endpoint,
            region,
            source,
        } = self
        else {
            return None;
        };
        let params = sts::AssumeRoleParams {
            role_arn: role_arn.clone(),
            session_name: role_session_name.clone(),
            external_id: external_id.clone(),
            duration_seconds: *duration_seconds,
            endpoint: sts_endpoint.clone(),
            region: region.clone(),
        };
        Some((params, source))
    }
}

/// A profile resolved for use by an S3 client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResolvedProfile {
    pub name: String,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub addressing_style: Option<AddressingStyle>,
    pub credentials: CredentialSource,
}

/// Options of resolution that come from the operator rather than the files.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResolveOptions {
    /// Allow `credential_process` to run.
    pub allow_credential_process: bool,
}

impl ProfileSet {
    /// Reads both files as located by `env`; a missing file counts as empty.
    pub fn load(env: &ProfileEnv) -> Result<Self, ProfileError> {
        let (config, credentials) = (env.config_file(), env.credentials_file());
        for (var, path) in [
            ("AWS_CONFIG_FILE", &config),
            ("AWS_SHARED_CREDENTIALS_FILE", &credentials),
        ] {
            if vars::path_var(&env.vars, var).is_some() && !path.exists() {
                tracing::warn!(
                    "{var} points to {}, which does not exist; treating it as empty",
                    path.display()
                );
            }
        }
        Self::load_files(&config, &credentials)
    }

    /// Reads the two given files; a missing file counts as empty.
    pub fn load_files(config: &Path, credentials: &Path) -> Result<Self, ProfileError> {
        let config_text = read_optional(config)?;
        let credentials_text = read_optional(credentials)?;
        let parsed_config = parse_file(
            config_text.as_deref().unwrap_or(""),
            config,
            FileKind::Config,
        )?;
        let parsed_credentials = parse_file(
            credentials_text.as_deref().unwrap_or(""),
            credentials,
            FileKind::Credentials,
        )?;
        let mut set = Self::from_parsed(parsed_config, parsed_credentials);
        set.files = vec![config.to_owned(), credentials.to_owned()];
        Ok(set)
    }

    /// Names of all profiles, sorted.
    pub fn names(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }

    /// Resolves `name` for service `s3`. `explicit_endpoint` (a bucket's own endpoint) wins over
    /// everything, even the ignore flag.
    pub fn resolve(
        &self,
        name: &str,
        env: &ProfileEnv,
        explicit_endpoint: Option<&str>,
        opts: ResolveOptions,
    ) -> Result<ResolvedProfile, ProfileError> {
        resolve::resolve(self, name, env, explicit_endpoint, opts)
    }
}

/// Builds an aws-sdk credentials provider for a resolved source (AssumeRole refreshes through
/// STS, over `http` when given: the caller's HTTP client, with its bounds and guards).
pub fn credentials_provider(
    source: &CredentialSource,
    http: Option<&SharedHttpClient>,
) -> Option<SharedCredentialsProvider> {
    match source {
        CredentialSource::Anonymous => None,
        CredentialSource::Static(k) => Some(SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new(
                k.access_key_id.clone(),
                k.secret_access_key.clone(),
                k.session_token.clone(),
                None,
                "rebucket-profile",
            ),
        )),
        CredentialSource::AssumeRole { .. } => source.assume_role().map(|(params, inner)| {
            SharedCredentialsProvider::new(sts::AssumeRoleProvider::new(
                params,
                credentials_provider(inner, http),
                http.cloned(),
            ))
        }),
        CredentialSource::Process { command } => Some(SharedCredentialsProvider::new(
            process::ProcessProvider::new(command.clone()),
        )),
    }
}
