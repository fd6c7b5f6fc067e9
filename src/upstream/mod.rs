//! Upstream S3 clients: what shapes one ([`UpstreamKey`]), the cache of them ([`UpstreamPool`]),
//! how a bucket is routed to one ([`route`]), region lookup ([`region`]), requests shaped as S3
//! clients send them (`shape`), trailing checksums sent on ([`trailer`]), the mapping of
//! upstream failures to S3 errors ([`error`]), answers of S3-compatible servers normalized for
//! the SDK ([`compat`]), what an answer said beyond the SDK's output ([`raw`]), the time bounds
//! and retries of upstream calls ([`bounds`]), requests sent without the SDK ([`direct`]) and
//! the connect-time address guard ([`guard`]).
//! The third step of the request path (front → gateway → upstream); below it only the
//! registry and the profiles.

pub mod bounds;
pub mod compat;
pub mod direct;
pub mod error;
pub mod guard;
pub mod raw;
pub mod region;
pub mod route;
mod shape;
pub mod sigv4;
pub use shape::BlankKey;
pub mod trailer;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    SharedHttpClient, StalledStreamProtectionConfig,
};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use crate::profiles::{CredentialSource, credentials_provider};

/// Everything that shapes an upstream client. Two routes with equal keys share one client (and
/// its keep-alive pool); a changed profile, rotated keys, another endpoint, region or addressing
/// style give another key, hence another client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UpstreamKey {
    /// `http(s)://host:port`, or `None` for AWS's own endpoints.
    pub endpoint: Option<String>,
    pub region: String,
    pub path_style: bool,
    pub credentials: CredentialSource,
}

impl UpstreamKey {
    /// The endpoint as shown in logs and errors.
    pub fn endpoint_display(&self) -> String {
        match &self.endpoint {
            Some(e) => e.clone(),
            None => format!("https://s3.{}.amazonaws.com", self.region),
        }
    }
}

/// Tunables of upstream connections.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Bound on a TCP/TLS connect to an upstream.
    pub connect_timeout: Duration,
    /// How many times an idempotent, non-streaming request is tried.
    pub max_attempts: u32,
    /// A client unused for this long is dropped.
    pub idle_timeout: Duration,
    /// Bound on the wait for an answer once the request is sent (see [`bounds`]).
    pub first_byte_timeout: Duration,
    /// Bound on a pause of a transfer either way (see [`bounds`]).
    pub transfer_idle_timeout: Duration,
    /// Where upstream requests may go: link-local addresses, the endpoint allowlist (see
    /// [`guard`]).
    pub destinations: guard::Destinations,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            max_attempts: 2,
            idle_timeout: Duration::from_secs(600),
            first_byte_timeout: bounds::DEFAULT_FIRST_BYTE_TIMEOUT,
            transfer_idle_timeout: bounds::DEFAULT_IDLE_TIMEOUT,
            destinations: guard::Destinations::default(),
        }
    }
}

struct Entry {
    client: aws_sdk_s3::Client,
    last_used: Instant,
}

/// The cache of upstream clients, keyed by [`UpstreamKey`]. All clients share one HTTP
/// connection pool (TCP_NODELAY on, bounded connect, first-byte and idle time, destinations
/// and resolved addresses checked by the guard), and so do the STS clients of their
/// credentials.
pub struct UpstreamPool {
    /// The S3 clients' HTTP client: [`Self::connect`] with answers normalized for the SDK.
    http: SharedHttpClient,
    /// The bounded and guarded HTTP client.
    connect: SharedHttpClient,
    /// [`Self::connect`]'s connector, for requests sent without the SDK.
    direct: direct::Direct,
    settings: PoolSettings,
    clients: Mutex<HashMap<UpstreamKey, Entry>>,
}

impl UpstreamPool {
    pub fn new(settings: PoolSettings) -> Self {
        use aws_smithy_http_client::tls;
        let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        let http = if settings.destinations.allow_link_local {
            builder.build_https()
        } else {
            builder.build_with_resolver(guard::GuardedResolver)
        };
        let connect = bounds::bounded(
            http,
            bounds::Bounds {
                first_byte: settings.first_byte_timeout,
                idle: settings.transfer_idle_timeout,
            },
            settings.destinations.clone(),
        );
        let http = compat::normalizing(connect.clone());
        let direct = direct::Direct::new(&connect, settings.connect_timeout);
        Self {
            http,
            connect,
            direct,
            settings,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client for `key`, built on first use.
    pub fn client(&self, key: &UpstreamKey) -> aws_sdk_s3::Client {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(entry) = clients.get_mut(key) {
            entry.last_used = now;
            return entry.client.clone();
        }
        let client = self.build(key);
        clients.insert(
            key.clone(),
            Entry {
                client: client.clone(),
                last_used: now,
            },
        );
        client
    }

    /// The HTTP connector every upstream client uses, for requests sent without the SDK.
    pub fn direct(&self) -> &direct::Direct {
        &self.direct
    }

    /// How many clients are cached.
    pub fn cached(&self) -> usize {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Drops clients unused for longer than the idle timeout; returns how many remain.
    pub fn evict_idle(&self) -> usize {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let idle = self.settings.idle_timeout;
        clients.retain(|_, e| e.last_used.elapsed() < idle);
        clients.len()
    }

    fn build(&self, key: &UpstreamKey) -> aws_sdk_s3::Client {
        let mut b = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(key.region.clone()))
            .http_client(self.http.clone())
            .force_path_style(key.path_style)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(self.settings.connect_timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(self.settings.max_attempts))
            .retry_classifier(bounds::NoRetryAfterStall)
            // Checksums are the client's: pass its own through, add none of ours.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            // A slow client must not make the upload look stalled (the bounded HTTP client
            // watches uploads, not counting the client's pace); downloads keep the SDK's
            // protection, with the same grace as the transfer idle timeout.
            .stalled_stream_protection(
                StalledStreamProtectionConfig::enabled()
                    .upload_enabled(false)
                    .grace_period(self.settings.transfer_idle_timeout)
                    .build(),
            );
        b = b
            .interceptor(shape::ClientShaped)
            .interceptor(bounds::NotRetried)
            .interceptor(trailer::TrailingChecksum)
            .interceptor(raw::Recorder)
            .interceptor(compat::MarkNormalized);
        if let Some(endpoint) = &key.endpoint {
            b = b.endpoint_url(endpoint);
        }
        b = match credentials_provider(&key.credentials, Some(&self.connect)) {
            Some(p) => b.credentials_provider(p),
            None => b.allow_no_auth(),
        };
        aws_sdk_s3::Client::from_conf(b.build())
    }
}
