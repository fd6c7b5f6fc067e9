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
//! lean_path = true                  # plain GETs and HEADs forwarded without the AWS SDK
//! embedded_fallback = false         # buckets with no route of their own go to the embedded
//!                                   # store (default: only when no upstream is configured)
//! # A registry shared by several replicas (default: <data-dir>/registry.json, one replica):
//! registry = "s3://rebucket-config/registry.json"
//! registry_endpoint = "http://seaweedfs:8333"  # default: the default upstream (S3_ENDPOINT)
//! registry_profile = "registry"     # default: the default upstream's credentials
//! registry_cache = true             # keep <data-dir>/registry-cache.json to start from
//! registry_poll_ms = 250            # how often each replica asks whether it changed
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
use crate::registry::{Endpoint, ProfileName, RegistryObject};

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

/// `lean_path`: `REBUCKET_LEAN_PATH` (`true`/`false`) if set, else the config file's, else on.
fn lean_path(env: &HashMap<String, String>, file: Option<bool>) -> Result<bool, ConfigError> {
    match vars::var(env, "REBUCKET_LEAN_PATH") {
        None => Ok(file.unwrap_or(true)),
        Some(v) => v.trim().parse().map_err(|_| {
            ConfigError::Invalid(format!("REBUCKET_LEAN_PATH={v:?}: expected true or false"))
        }),
    }
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
    /// Whether plain GETs and HEADs take the lean path (default on).
    pub lean_path: Option<bool>,
    pub post_object_memory_bytes: Option<u64>,
    /// Whether a bucket with no route of its own goes to the embedded store; unset: only when
    /// nothing at all is configured (see [`crate::upstream::route::Defaults`]).
    pub embedded_fallback: Option<bool>,
    /// `s3://BUCKET/KEY`: the registry is that object, shared by every replica configured so
    /// (see [`SharedRegistry`]); unset: `<data-dir>/registry.json`.
    pub registry: Option<String>,
    /// The endpoint of the shared registry's S3 server; unset: the default upstream's.
    pub registry_endpoint: Option<String>,
    /// The AWS profile whose credentials reach the shared registry; unset: the default
    /// upstream's credentials.
    pub registry_profile: Option<String>,
    /// Whether a copy of the shared registry is kept in the data dir to start from while the
    /// store is down (default on).
    pub registry_cache: Option<bool>,
    /// How often each replica asks the shared store whether the registry changed (default
    /// [`DEFAULT_REGISTRY_POLL`]).
    pub registry_poll_ms: Option<u64>,
}

/// Default of `registry_poll_ms`: a change is seen by every replica within about this plus one
/// request's time (well within the 1 s the replicas promise), at 4 requests per second per replica at idle.
pub const DEFAULT_REGISTRY_POLL: Duration = Duration::from_millis(250);

/// The file of the shared registry's local cached copy, in the data dir.
pub const REGISTRY_CACHE_FILE: &str = "registry-cache.json";

/// A registry shared by several replicas: one object on S3 (see `registry::S3Store`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedRegistry {
    pub object: RegistryObject,
    /// `registry_endpoint`; `None`: the default upstream's.
    pub endpoint: Option<Endpoint>,
    /// `registry_profile`; `None`: the default upstream's credentials.
    pub profile: Option<ProfileName>,
    /// Where the local cached copy is kept; `None` when `registry_cache = false`.
    pub cache: Option<PathBuf>,
    /// `registry_poll_ms`.
    pub poll_interval: Duration,
}

impl SharedRegistry {
    /// The shared registry the config file names, validated; `None` when it names none.
    pub fn from_file(file: &ConfigFile, data_dir: &Path) -> Result<Option<Self>, ConfigError> {
        let Some(url) = &file.registry else {
            if file.registry_endpoint.is_some() || file.registry_profile.is_some() {
                return Err(ConfigError::Invalid(
                    "registry_endpoint and registry_profile need registry = \"s3://BUCKET/KEY\""
                        .into(),
                ));
            }
            return Ok(None);
        };
        let object = url
            .parse::<RegistryObject>()
            .map_err(|e| ConfigError::Invalid(format!("registry = {e}")))?;
        let endpoint = match &file.registry_endpoint {
            Some(e) => Some(e.parse::<Endpoint>().map_err(|reason| {
                ConfigError::Invalid(format!("invalid registry_endpoint {e:?}: {reason}"))
            })?),
            None => None,
        };
        let profile = match &file.registry_profile {
            Some(p) => Some(p.parse::<ProfileName>().map_err(|e| {
                ConfigError::Invalid(format!("invalid registry_profile {p:?}: {e}"))
            })?),
            None => None,
        };
        let poll_interval = match file.registry_poll_ms {
            None => DEFAULT_REGISTRY_POLL,
            Some(ms @ 50..=10_000) => Duration::from_millis(ms),
            Some(ms) => {
                return Err(ConfigError::Invalid(format!(
                    "registry_poll_ms = {ms}: expected 50 to 10000 (milliseconds)"
                )));
            }
        };
        Ok(Some(Self {
            object,
            endpoint,
            profile,
            cache: file
                .registry_cache
                .unwrap_or(true)
                .then(|| data_dir.join(REGISTRY_CACHE_FILE)),
            poll_interval,
        }))
    }
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
    /// Whether plain GETs and HEADs of objects are forwarded without the SDK (see
    /// `gateway::lean`): `REBUCKET_LEAN_PATH`, else `lean_path` of the config file, else on.
    pub lean_path: bool,
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
    /// `registry = "s3://..."`: the registry shared by several replicas; `None`: the local file.
    pub shared_registry: Option<SharedRegistry>,
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

        let shared_registry = SharedRegistry::from_file(&file, &data_dir)?;
        let shared = shared_registry.is_some();
        let (users, generated_keys) = Self::users(&file, env, &data_dir, shared)?;
        let (admin_token, admin_token_source) = Self::admin_token(&file, env, &data_dir, shared)?;

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
            lean_path: lean_path(env, file.lean_path)?,
            default_endpoint,
            default_profile: vars::var(env, "AWS_PROFILE").map(str::to_owned),
            env_credentials,
            embedded_fallback: file.embedded_fallback,
            shared_registry,
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

    /// Front keys: env, else config users, else the pair generated on first start (not with a
    /// shared registry: every replica must accept the same keys, so they come from the
    /// environment or the config file all replicas mount).
    fn users(
        file: &ConfigFile,
        env: &HashMap<String, String>,
        data_dir: &Path,
        shared: bool,
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
        if shared {
            return Err(ConfigError::Invalid(
                "with a shared registry (registry = \"s3://...\") the front keys must be the same on \
                 every replica, so they are not generated: set REBUCKET_ACCESS_KEY and \
                 REBUCKET_SECRET_KEY, or [[users]] in the config file, from secrets every replica \
                 mounts"
                    .into(),
            ));
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
    /// Not generated with a shared registry (every replica must accept the same token).
    fn admin_token(
        file: &ConfigFile,
        env: &HashMap<String, String>,
        data_dir: &Path,
        shared: bool,
    ) -> Result<(String, String), ConfigError> {
        if let Some(t) = vars::var(env, "REBUCKET_ADMIN_TOKEN") {
            return Ok((t.to_owned(), "REBUCKET_ADMIN_TOKEN".into()));
        }
        if shared && file.admin_token_file.is_none() {
            return Err(ConfigError::Invalid(
                "with a shared registry (registry = \"s3://...\") the admin token must be the same \
                 on every replica, so it is not generated: set REBUCKET_ADMIN_TOKEN, or \
                 admin_token_file to a secret file every replica mounts"
                    .into(),
            ));
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
    fn with_a_shared_registry_front_keys_and_admin_token_are_never_generated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rebucket.toml");
        std::fs::write(
            &file,
            "registry = \"s3://rebucket-config/registry.json\"\n\
             registry_endpoint = \"http://127.0.0.1:8333\"\nregistry_poll_ms = 500\n",
        )
        .unwrap();
        let args = |data: &str| ServeArgs {
            listen: "127.0.0.1:0".parse().unwrap(),
            admin_listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join(data),
            config: Some(file.clone()),
            domain: vec![],
            log_format: Default::default(),
            metrics_listen: None,
        };
        let mut env: HashMap<String, String> = HashMap::new();
        let err = ServeConfig::build(args("a"), &env).unwrap_err().to_string();
        assert!(err.contains("REBUCKET_ACCESS_KEY"), "{err}");
        assert!(!dir.path().join("a/front-keys.json").exists());
        env.insert("REBUCKET_ACCESS_KEY".into(), "FRONTKEY".into());
        env.insert(
            "REBUCKET_SECRET_KEY".into(),
            "front-secret-0123456789".into(),
        );
        let err = ServeConfig::build(args("b"), &env).unwrap_err().to_string();
        assert!(err.contains("REBUCKET_ADMIN_TOKEN"), "{err}");
        assert!(!dir.path().join("b/admin-token").exists());
        env.insert(
            "REBUCKET_ADMIN_TOKEN".into(),
            "admin-token-0123456789".into(),
        );
        let config = ServeConfig::build(args("c"), &env).unwrap();
        let shared = config.shared_registry.unwrap();
        assert_eq!(
            shared.object.to_string(),
            "s3://rebucket-config/registry.json"
        );
        assert_eq!(shared.poll_interval, Duration::from_millis(500));
        assert_eq!(
            shared.cache,
            Some(dir.path().join("c").join(REGISTRY_CACHE_FILE))
        );
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
