//! Operator configuration: the `serve` flags, the optional TOML config file and the start-up
//! environment (`S3_ENDPOINT`, `AWS_PROFILE`, `REBUCKET_*`), validated once into [`ServeConfig`]
//! and trusted from then on.
//!
//! Config file (all keys optional):
//! ```toml
//! allow_anonymous = false           # let unsigned requests through (default: refused, 403)
//! allow_credential_process = false  # let profiles run `credential_process`
//! admin_token_file = "/etc/rebucket/admin-token"
//! domains = ["s3.example.test"]     # virtual-hosted-style base domains
//! endpoint_allowlist = ["127.0.0.1", "minio.local:9000"]  # hosts buckets may point at
//! connect_timeout_ms = 3000
//! post_object_max_bytes = 67108864  # largest POST-form (browser) upload; see below
//! post_object_memory_bytes = 268435456  # memory all POST forms in flight may hold together
//! discovery_per_second = 10         # bucket look-ups (HeadBucket) started per second on
//!                                   # clients' behalf (unsigned callers never start one)
//! [[users]]
//! access_key = "AKIA..."
//! secret_key = "..."
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::profiles::StaticCredentials;

/// A configuration that cannot be used; the message says which setting and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read or parsed.
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    /// A setting has a bad value.
    #[error("{0}")]
    Invalid(String),
    /// The data dir could not be prepared.
    #[error("data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One client identity allowed to call the S3 front.
#[derive(Clone, Deserialize)]
pub struct User {
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// The TOML config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub allow_anonymous: bool,
    #[serde(default)]
    pub allow_credential_process: bool,
    pub admin_token_file: Option<PathBuf>,
    #[serde(default)]
    pub domains: Vec<String>,
    pub endpoint_allowlist: Option<Vec<String>>,
    pub connect_timeout_ms: Option<u64>,
    pub post_object_max_bytes: Option<u64>,
    pub discovery_per_second: Option<u32>,
    pub post_object_memory_bytes: Option<u64>,
}

/// Default for [`ServeConfig::post_object_memory_bytes`]: 256 MiB (four largest forms).
pub const DEFAULT_POST_OBJECT_MEMORY_BYTES: u64 = 256 << 20;

/// Default for [`ServeConfig::discovery_per_second`]: 10 look-ups a second.
pub const DEFAULT_DISCOVERY_PER_SECOND: u32 = 10;

/// Default for [`ServeConfig::post_object_max_bytes`]: 64 MiB.
pub const DEFAULT_POST_OBJECT_MAX_BYTES: u64 = 64 << 20;

impl ConfigFile {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

/// The `serve` flags as given.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address of the S3 front.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Address of the admin API.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub admin_listen: SocketAddr,
    /// Where the registry, generated keys and the embedded store live.
    #[arg(long, default_value = "./rebucket-data")]
    pub data_dir: PathBuf,
    /// TOML config file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Base domain for virtual-hosted-style requests (repeatable; adds to the config file's).
    #[arg(long)]
    pub domain: Vec<String>,
}

/// Everything `serve` needs, validated.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Client identities of the S3 front; never empty.
    pub users: Vec<User>,
    /// Whether the keys were generated on this start (then they are printed once).
    pub generated_keys: bool,
    pub allow_anonymous: bool,
    pub allow_credential_process: bool,
    pub admin_token: String,
    pub admin_token_source: String,
    pub domains: Vec<String>,
    pub endpoint_allowlist: Option<Vec<String>>,
    pub connect_timeout: Duration,
    /// Largest file a POST-form upload may carry. s3s reads a POST form's file into memory
    /// before the upload can start (it needs its length), so this bounds that memory per
    /// request; larger uploads are refused with 400 EntityTooLarge (S3's own limit is 5 GiB;
    /// PUT and multipart uploads stream and have no such bound).
    pub post_object_max_bytes: u64,
    /// How many bucket look-ups (HeadBucket on first use of a bucket) may start per second on
    /// clients' behalf (default [`DEFAULT_DISCOVERY_PER_SECOND`]); past it,
    /// requests use the route as it is. Bounds what any caller can make rebucket ask upstreams.
    pub discovery_per_second: u32,
    /// The memory all POST-form uploads in flight may hold together: each form reserves its
    /// declared length (at most `post_object_max_bytes`) before s3s reads it; a form that
    /// does not fit is refused with `503 SlowDown`.
    pub post_object_memory_bytes: u64,
    /// `S3_ENDPOINT`, validated.
    pub default_endpoint: Option<String>,
    /// `AWS_PROFILE`.
    pub default_profile: Option<String>,
    /// `AWS_ACCESS_KEY_ID` and friends.
    pub env_credentials: Option<StaticCredentials>,
}

fn non_blank(env: &HashMap<String, String>, name: &str) -> Option<String> {
    env.get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Writes `contents` to `path` readable by the owner only, atomically.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// A random string of `len` characters from `alphabet`.
pub fn random_string(len: usize, alphabet: &[u8]) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A fresh access key / secret key pair.
pub fn generate_key_pair() -> User {
    User {
        access_key: format!("RB{}", random_string(18, UPPER_DIGITS)),
        secret_key: random_string(40, SECRET_CHARS),
    }
}

#[derive(serde::Serialize, Deserialize)]
struct StoredKeys {
    access_key: String,
    secret_key: String,
}

impl ServeConfig {
    /// Validates flags, config file and environment; prepares the data dir.
    pub fn build(args: ServeArgs, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(p) => ConfigFile::load(p)?,
            None => ConfigFile::default(),
        };
        let data_dir = args.data_dir.clone();
        std::fs::create_dir_all(&data_dir).map_err(|source| ConfigError::DataDir {
            path: data_dir.clone(),
            source,
        })?;

        let (users, generated_keys) = Self::users(&file, env, &data_dir)?;
        let (admin_token, admin_token_source) = Self::admin_token(&file, env, &data_dir)?;

        let default_endpoint = match non_blank(env, "S3_ENDPOINT") {
            Some(e) => Some(
                crate::registry::validate_endpoint(&e, &crate::registry::EndpointPolicy::default())
                    .map_err(|err| ConfigError::Invalid(format!("S3_ENDPOINT: {err}")))?,
            ),
            None => None,
        };
        let env_credentials = match (
            non_blank(env, "AWS_ACCESS_KEY_ID"),
            non_blank(env, "AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some(access_key_id), Some(secret_access_key)) => Some(StaticCredentials {
                access_key_id,
                secret_access_key,
                session_token: non_blank(env, "AWS_SESSION_TOKEN"),
            }),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together".into(),
                ));
            }
        };
        let mut domains = file.domains;
        domains.extend(args.domain);
        for d in &domains {
            if d.contains('/') || d.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "domain {d:?}: expected a host name, not a URL"
                )));
            }
        }
        Ok(Self {
            listen: args.listen,
            admin_listen: args.admin_listen,
            data_dir,
            users,
            generated_keys,
            allow_anonymous: file.allow_anonymous,
            allow_credential_process: file.allow_credential_process,
            admin_token,
            admin_token_source,
            domains,
            endpoint_allowlist: file.endpoint_allowlist,
            connect_timeout: Duration::from_millis(file.connect_timeout_ms.unwrap_or(3000)),
            post_object_max_bytes: file
                .post_object_max_bytes
                .unwrap_or(DEFAULT_POST_OBJECT_MAX_BYTES),
            post_object_memory_bytes: file
                .post_object_memory_bytes
                .unwrap_or(DEFAULT_POST_OBJECT_MEMORY_BYTES),
            discovery_per_second: file
                .discovery_per_second
                .unwrap_or(DEFAULT_DISCOVERY_PER_SECOND),
            default_endpoint,
            default_profile: non_blank(env, "AWS_PROFILE"),
            env_credentials,
        })
    }

    /// Front keys: env, else config users, else the pair generated on first start.
    fn users(
        file: &ConfigFile,
        env: &HashMap<String, String>,
        data_dir: &Path,
    ) -> Result<(Vec<User>, bool), ConfigError> {
        match (
            non_blank(env, "REBUCKET_ACCESS_KEY"),
            non_blank(env, "REBUCKET_SECRET_KEY"),
        ) {
            (Some(access_key), Some(secret_key)) => {
                let mut users = vec![User {
                    access_key,
                    secret_key,
                }];
                users.extend(file.users.iter().cloned());
                return Ok((users, false));
            }
            (None, None) => {}
            _ => {
                return Err(ConfigError::Invalid(
                    "REBUCKET_ACCESS_KEY and REBUCKET_SECRET_KEY must be set together".into(),
                ));
            }
        }
        if !file.users.is_empty() {
            return Ok((file.users.clone(), false));
        }
        let path = data_dir.join("front-keys.json");
        let io = |source| ConfigError::DataDir {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let k: StoredKeys = serde_json::from_str(&text)
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
                Ok((
                    vec![User {
                        access_key: k.access_key,
                        secret_key: k.secret_key,
                    }],
                    false,
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let u = generate_key_pair();
                let stored = StoredKeys {
                    access_key: u.access_key.clone(),
                    secret_key: u.secret_key.clone(),
                };
                write_private(
                    &path,
                    &serde_json::to_string_pretty(&stored).unwrap_or_default(),
                )
                .map_err(io)?;
                Ok((vec![u], true))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Admin token: `REBUCKET_ADMIN_TOKEN`, else the config's token file, else one generated
    /// into `<data-dir>/admin-token` on first start.
    fn admin_token(
        file: &ConfigFile,
        env: &HashMap<String, String>,
        data_dir: &Path,
    ) -> Result<(String, String), ConfigError> {
        if let Some(t) = non_blank(env, "REBUCKET_ADMIN_TOKEN") {
            return Ok((t, "REBUCKET_ADMIN_TOKEN".into()));
        }
        let (path, generate) = match &file.admin_token_file {
            Some(p) => (p.clone(), false),
            None => (data_dir.join("admin-token"), true),
        };
        match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => Ok((t.trim().to_owned(), path.display().to_string())),
            Ok(_) => Err(ConfigError::Invalid(format!(
                "admin token file {} is empty",
                path.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && generate => {
                let token = random_string(40, SECRET_CHARS);
                write_private(&path, &token).map_err(|source| ConfigError::DataDir {
                    path: path.clone(),
                    source,
                })?;
                Ok((token, path.display().to_string()))
            }
            Err(e) => Err(ConfigError::Invalid(format!(
                "admin token file {}: {e}",
                path.display()
            ))),
        }
    }
}
