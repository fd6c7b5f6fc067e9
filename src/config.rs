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
//! endpoint_allowlist = ["127.0.0.1", "minio.local:9000"]  # the only hosts upstreams may be at
//! connect_timeout_ms = 3000
//! post_object_max_bytes = 67108864  # largest POST-form (browser) upload; see below
//! # Bounds of the S3 and admin listeners (see `listener`; defaults shown):
//! header_read_timeout_ms = 20000    # a request's header block must arrive within this
//! idle_timeout_ms = 20000           # a connection with nothing in flight is closed after this
//! body_idle_timeout_ms = 30000      # an upload (or a download's reader) pausing this long is cut
//! max_connections = 1024            # per listener; past it: 503 SlowDown, connection closed
//! max_headers = 100                 # header fields per request; past it: 431
//! max_header_bytes = 16384          # header block incl. request line; past it: 431
//! # Bounds of upstream calls (see `upstream::bounds`; defaults shown):
//! upstream_first_byte_timeout_ms = 60000  # answer's head within this once the request is sent
//! upstream_idle_timeout_ms = 30000  # a transfer pausing this long (either way) fails, 503
//! allow_link_local = false          # upstreams at 169.254.0.0/16, fe80::/10, fd00:ec2::254
//! ready_checks_upstream = false     # /readyz also checks the default upstream accepts connections
//! post_object_memory_bytes = 268435456  # memory all POST forms in flight may hold together
//! discovery_per_second = 10         # bucket look-ups (HeadBucket) started per second on
//!                                   # clients' behalf (unsigned callers never start one)
//! embedded_fallback = false         # buckets with no route of their own go to the embedded
//!                                   # store (default: only when no upstream is configured)
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
use crate::profiles::resolve::env_credentials;
use crate::profiles::vars;
use crate::registry::Endpoint;

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
    pub header_read_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub body_idle_timeout_ms: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_headers: Option<usize>,
    pub max_header_bytes: Option<usize>,
    pub upstream_first_byte_timeout_ms: Option<u64>,
    pub upstream_idle_timeout_ms: Option<u64>,
    #[serde(default)]
    pub allow_link_local: bool,
    /// Whether `/readyz` also checks that the default upstream accepts connections.
    #[serde(default)]
    pub ready_checks_upstream: bool,
    pub discovery_per_second: Option<u32>,
    pub post_object_memory_bytes: Option<u64>,
    /// Whether a bucket with no route of its own goes to the embedded store; unset: only when
    /// nothing at all is configured (see [`crate::upstream::route::Defaults`]).
    pub embedded_fallback: Option<bool>,
}

/// Default for [`ServeConfig::post_object_memory_bytes`]: 256 MiB (four largest forms).
pub const DEFAULT_POST_OBJECT_MEMORY_BYTES: u64 = 256 << 20;

pub use crate::gateway::DEFAULT_DISCOVERY_PER_SECOND;

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
    #[arg(long, default_value = "127.0.0.1:8080", env = "REBUCKET_LISTEN")]
    pub listen: SocketAddr,
    /// Address of the admin API.
    #[arg(long, default_value = "127.0.0.1:8081", env = "REBUCKET_ADMIN_LISTEN")]
    pub admin_listen: SocketAddr,
    /// Where the registry, generated keys and the embedded store live.
    #[arg(long, default_value = "./rebucket-data", env = "REBUCKET_DATA_DIR")]
    pub data_dir: PathBuf,
    /// TOML config file.
    #[arg(long, env = "REBUCKET_CONFIG")]
    pub config: Option<PathBuf>,
    /// Base domain for virtual-hosted-style requests (repeatable; adds to the config file's).
    #[arg(long)]
    pub domain: Vec<String>,
    /// Log lines as human-readable text or as one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "REBUCKET_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Also serve `/metrics` (only) on this address; it is always on the admin listener.
    #[arg(long, env = "REBUCKET_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
}

/// How `serve` writes its log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-01-01T00:00:00Z  INFO rebucket::request: request request_id=... status=200 ...`
    #[default]
    Text,
    /// One JSON object per line, the fields at the top level.
    Json,
}

/// Everything `serve` needs, validated. Its `Debug` leaves out the admin token and the users'
/// secrets.
#[derive(Clone)]
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
    /// Whether `/readyz` also checks that the default upstream accepts connections.
    pub ready_checks_upstream: bool,
    /// Where `/metrics` is served besides the admin listener.
    pub metrics_listen: Option<SocketAddr>,
    /// Largest file a POST-form upload may carry. s3s reads a POST form's file into memory
    /// before the upload can start (it needs its length), so this bounds that memory per
    /// request; larger uploads are refused with 400 EntityTooLarge (S3's own limit is 5 GiB;
    /// PUT and multipart uploads stream and have no such bound).
    pub post_object_max_bytes: u64,
    /// Bounds of the S3 and admin listeners' connections.
    pub front_limits: crate::listener::FrontLimits,
    /// Bound on the wait for an upstream's answer once the request is sent.
    pub upstream_first_byte_timeout: Duration,
    /// Bound on a pause of an upstream transfer, either way.
    pub upstream_idle_timeout: Duration,
    /// Whether upstreams may be at link-local or cloud metadata addresses.
    pub allow_link_local: bool,
    /// `S3_ENDPOINT`.
    pub default_endpoint: Option<Endpoint>,
    /// How many bucket look-ups (HeadBucket on first use of a bucket) may start per second on
    /// clients' behalf (default [`DEFAULT_DISCOVERY_PER_SECOND`]); past it,
    /// requests use the route as it is. Bounds what any caller can make rebucket ask upstreams.
    pub discovery_per_second: u32,
    /// The memory all POST-form uploads in flight may hold together: each form reserves its
    /// declared length (at most `post_object_max_bytes`) before s3s reads it; a form that
    /// does not fit is refused with `503 SlowDown`.
    pub post_object_memory_bytes: u64,
    /// `AWS_PROFILE`.
    pub default_profile: Option<String>,
    /// `AWS_ACCESS_KEY_ID` and friends.
    pub env_credentials: Option<StaticCredentials>,
    /// `embedded_fallback`: `None` lets the resolver decide (on only when nothing is configured).
    pub embedded_fallback: Option<bool>,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("listen", &self.listen)
            .field("admin_listen", &self.admin_listen)
            .field("data_dir", &self.data_dir)
            .field("users", &self.users)
            .field("admin_token", &"<hidden>")
            .field("admin_token_source", &self.admin_token_source)
            .field("domains", &self.domains)
            .field("default_endpoint", &self.default_endpoint)
            .field("default_profile", &self.default_profile)
            .field("env_credentials", &self.env_credentials)
            .finish_non_exhaustive()
    }
}

/// A timeout setting in milliseconds: 1 ms to an hour, `default` when not set.
fn timeout_ms(name: &str, v: Option<u64>, default: Duration) -> Result<Duration, ConfigError> {
    let Some(ms) = v else {
        return Ok(default);
    };
    let d = Duration::from_millis(ms);
    if ms == 0 || d > crate::listener::FrontLimits::MAX_TIMEOUT {
        return Err(ConfigError::Invalid(format!(
            "{name} = {ms}: expected 1 to {} (milliseconds)",
            crate::listener::FrontLimits::MAX_TIMEOUT.as_millis()
        )));
    }
    Ok(d)
}

/// Writes `contents` to `path` readable by the owner only, atomically: through a temporary file
/// of an unpredictable name created exclusively (`O_EXCL`, mode 0600), then renamed.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("secret");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", random_string(16, SECRET_CHARS)));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    let written = f
        .write_all(contents.as_bytes())
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Whether a file that holds secrets can be read by others than its owner (group or world
/// bits set), as `serve` warns.
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
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
        let created = !data_dir.exists();
        std::fs::create_dir_all(&data_dir).map_err(|source| ConfigError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        // A data dir rebucket creates is its owner's only: it holds generated secrets.
        #[cfg(unix)]
        if created {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700));
        }

        let (users, generated_keys) = Self::users(&file, env, &data_dir)?;
        let (admin_token, admin_token_source) = Self::admin_token(&file, env, &data_dir)?;

        let default_endpoint = match vars::var(env, "S3_ENDPOINT") {
            Some(e) => Some(e.parse::<Endpoint>().map_err(|reason| {
                ConfigError::Invalid(format!("invalid S3_ENDPOINT {e:?}: {reason}"))
            })?),
            None => None,
        };
        let env_credentials = env_credentials(env).map_err(ConfigError::Invalid)?;
        let front_limits = Self::front_limits(&file)?;
        let upstream_first_byte_timeout = timeout_ms(
            "upstream_first_byte_timeout_ms",
            file.upstream_first_byte_timeout_ms,
            crate::upstream::bounds::DEFAULT_FIRST_BYTE_TIMEOUT,
        )?;
        let upstream_idle_timeout = timeout_ms(
            "upstream_idle_timeout_ms",
            file.upstream_idle_timeout_ms,
            crate::upstream::bounds::DEFAULT_IDLE_TIMEOUT,
        )?;
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
            ready_checks_upstream: file.ready_checks_upstream,
            metrics_listen: args.metrics_listen,
            post_object_max_bytes: file
                .post_object_max_bytes
                .unwrap_or(DEFAULT_POST_OBJECT_MAX_BYTES),
            front_limits,
            upstream_first_byte_timeout,
            upstream_idle_timeout,
            allow_link_local: file.allow_link_local,
            post_object_memory_bytes: file
                .post_object_memory_bytes
                .unwrap_or(DEFAULT_POST_OBJECT_MEMORY_BYTES),
            discovery_per_second: file
                .discovery_per_second
                .unwrap_or(DEFAULT_DISCOVERY_PER_SECOND),
            default_endpoint,
            default_profile: vars::var(env, "AWS_PROFILE").map(str::to_owned),
            env_credentials,
            embedded_fallback: file.embedded_fallback,
        })
    }

    /// The listeners' bounds of the config file, defaults for those not set.
    fn front_limits(file: &ConfigFile) -> Result<crate::listener::FrontLimits, ConfigError> {
        use crate::listener::FrontLimits as L;
        let d = L::default();
        let count = |name: &str, v: Option<usize>, default: usize, (lo, hi): (usize, usize)| {
            let v = v.unwrap_or(default);
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(ConfigError::Invalid(format!(
                    "{name} = {v}: expected {lo} to {hi}"
                )))
            }
        };
        Ok(L {
            header_read_timeout: timeout_ms(
                "header_read_timeout_ms",
                file.header_read_timeout_ms,
                d.header_read_timeout,
            )?,
            idle_timeout: timeout_ms("idle_timeout_ms", file.idle_timeout_ms, d.idle_timeout)?,
            body_idle_timeout: timeout_ms(
                "body_idle_timeout_ms",
                file.body_idle_timeout_ms,
                d.body_idle_timeout,
            )?,
            max_connections: count(
                "max_connections",
                file.max_connections,
                d.max_connections,
                (1, L::MAX_CONNECTIONS),
            )?,
            max_headers: count(
                "max_headers",
                file.max_headers,
                d.max_headers,
                (1, L::MAX_HEADERS),
            )?,
            max_header_bytes: count(
                "max_header_bytes",
                file.max_header_bytes,
                d.max_header_bytes,
                L::HEADER_BYTES,
            )?,
        })
    }

    /// Front keys: env, else config users, else the pair generated on first start.
    fn users(
        file: &ConfigFile,
        env: &HashMap<String, String>,
        data_dir: &Path,
    ) -> Result<(Vec<User>, bool), ConfigError> {
        let keys = vars::key_pair(env, "REBUCKET_ACCESS_KEY", "REBUCKET_SECRET_KEY")
            .map_err(ConfigError::Invalid)?;
        if let Some((access_key, secret_key)) = keys {
            let mut users = vec![User {
                access_key: access_key.to_owned(),
                secret_key: secret_key.to_owned(),
            }];
            users.extend(file.users.iter().cloned());
            return Ok((users, false));
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
        if let Some(t) = vars::var(env, "REBUCKET_ADMIN_TOKEN") {
            return Ok((t.to_owned(), "REBUCKET_ADMIN_TOKEN".into()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_the_owners_only_and_leave_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-token");
        write_private(&path, "one").unwrap();
        write_private(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert!(!readable_by_others(&path));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["admin-token"], "no temporary file left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(readable_by_others(&path));
        }
    }

    #[test]
    fn the_debug_of_a_config_shows_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let args = ServeArgs {
            listen: "127.0.0.1:0".parse().unwrap(),
            admin_listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            config: None,
            domain: vec![],
            log_format: Default::default(),
            metrics_listen: None,
        };
        let env: HashMap<String, String> = [
            ("REBUCKET_ACCESS_KEY", "FRONTKEY"),
            ("REBUCKET_SECRET_KEY", "front-secret-0123456789"),
            ("REBUCKET_ADMIN_TOKEN", "admin-token-0123456789"),
            ("AWS_ACCESS_KEY_ID", "UPKEY"),
            ("AWS_SECRET_ACCESS_KEY", "upstream-secret-0123456789"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = ServeConfig::build(args, &env).unwrap();
        let shown = format!("{config:?}");
        for secret in [
            "front-secret-0123456789",
            "admin-token-0123456789",
            "upstream-secret-0123456789",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("FRONTKEY"), "{shown}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("data"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o777,
                0o700,
                "a data dir rebucket creates is the owner's"
            );
        }
    }
}
