//! The AWS shared `config` and `credentials` files: locating, parsing (a line pass that
//! implements the SDK grammar in front of `rust-ini`) and resolving a named profile into what
//! an upstream client needs (credentials source, region, endpoint, addressing style).
//!
//! INTERFACE CONTRACT (bodies are being written; signatures are fixed, callers rely on them).

pub mod cli;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

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
    /// Path of the config file (`AWS_CONFIG_FILE`, else `~/.aws/config`).
    pub fn config_file(&self) -> PathBuf {
        PathBuf::from(
            self.vars
                .get("AWS_CONFIG_FILE")
                .cloned()
                .unwrap_or_default(),
        )
    }
    /// Path of the credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`).
    pub fn credentials_file(&self) -> PathBuf {
        PathBuf::from(
            self.vars
                .get("AWS_SHARED_CREDENTIALS_FILE")
                .cloned()
                .unwrap_or_default(),
        )
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

/// S3 addressing style from the `s3 = addressing_style` sub-property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressingStyle {
    Auto,
    Path,
    Virtual,
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
        let _ = env;
        Ok(Self::default())
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
        let _ = (env, opts);
        let props = self
            .profiles
            .get(name)
            .ok_or_else(|| ProfileError::NotFound {
                name: name.to_owned(),
                files: format!("{:?}", self.files),
            })?;
        let credentials = match (
            props.get("aws_access_key_id"),
            props.get("aws_secret_access_key"),
        ) {
            (Some(a), Some(s)) => CredentialSource::Static(StaticCredentials {
                access_key_id: a.clone(),
                secret_access_key: s.clone(),
                session_token: props.get("aws_session_token").cloned(),
            }),
            _ => CredentialSource::Anonymous,
        };
        Ok(ResolvedProfile {
            name: name.to_owned(),
            region: props.get("region").cloned(),
            endpoint_url: explicit_endpoint
                .map(str::to_owned)
                .or_else(|| props.get("endpoint_url").cloned()),
            addressing_style: None,
            credentials,
        })
    }
}

/// Builds an aws-sdk credentials provider for a resolved source (AssumeRole refreshes through STS).
pub fn credentials_provider(
    source: &CredentialSource,
) -> Option<aws_credential_types::provider::SharedCredentialsProvider> {
    match source {
        CredentialSource::Static(k) => Some(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    k.access_key_id.clone(),
                    k.secret_access_key.clone(),
                    k.session_token.clone(),
                    None,
                    "rebucket-profile",
                ),
            ),
        ),
        _ => None,
    }
}
