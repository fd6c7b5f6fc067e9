//! What an operator watches: the gateway's Prometheus metrics ([`Metrics`], one per running
//! gateway, served as text on the admin listener's `/metrics`), the per-request context that
//! carries a request's id, operation and upstream time from the layer that sees them to the
//! log line and the counters ([`request`]), and the readiness flags `/readyz` reads.
//!
//! A leaf: every layer of the request path calls into it, it calls into none of them. Metrics
//! are [`prometheus_client`] families keyed by small label structs; the bucket label is a
//! registered bucket's name, else `other`, so its cardinality is bounded by the registry
//! (see [Prometheus: naming](https://prometheus.io/docs/practices/naming/) for the names).

pub mod request;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use request::RequestId;

/// The bucket label of a request to a bucket that is not registered.
pub const OTHER_BUCKET: &str = "other";

/// Labels of `rebucket_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The S3 operation as s3s names it (`GetObject`), `unknown` when the request was refused
    /// before its operation was known (a bad signature, an unparseable request).
    pub operation: &'static str,
    pub bucket: Cow<'static, str>,
    /// `2xx` .. `5xx`, or `error` when no answer could be written.
    pub status: &'static str,
}

/// Labels of metrics per bucket.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BucketLabels {
    pub bucket: Cow<'static, str>,
}

/// Labels of metrics per operation.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: &'static str,
}

/// Labels of `rebucket_upstream_errors_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamErrorLabels {
    /// The upstream's endpoint as routes name it (`http://host:9000`).
    pub endpoint: String,
    /// `refused` (unreachable: refused, reset, DNS, TLS), `timeout`, `5xx` (an answer with a
    /// server error status), `bad_response` (an answer the SDK cannot read).
    pub kind: &'static str,
}

/// Labels of `rebucket_open_connections`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerLabels {
    /// `s3`, `admin` or `metrics` (the `--metrics-listen` listener).
    pub listener: &'static str,
}

/// Labels of counters of outcomes (`ok` / `error`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

/// Labels of `rebucket_credential_reloads_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `watch` (the AWS files changed on disk) or `admin` (`POST /v1/reload-creds`).
    pub trigger: &'static str,
    pub result: &'static str,
}

/// Labels of `rebucket_registry_store_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreRequestLabels {
    /// `get` (a load, or a poll: a conditional GET), `put` (a conditional write).
    pub op: &'static str,
    /// `ok`, `not_modified` (a poll that found no change), `conflict` (a precondition failed:
    /// another replica wrote first) or `error` (unreachable, refused).
    pub result: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms .. ~32 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The metrics of one running gateway.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    bytes_in: Family<BucketLabels, Counter>,
    bytes_out: Family<BucketLabels, Counter>,
    request_seconds: HistogramFamily<OperationLabels>,
    upstream_seconds: HistogramFamily<OperationLabels>,
    upstream_errors: Family<UpstreamErrorLabels, Counter>,
    in_flight: Gauge,
    connections: Family<ListenerLabels, Gauge>,
    upstream_clients: Gauge,
    discovery: Family<ResultLabels, Counter>,
    lean_path: Family<ResultLabels, Counter>,
    registry_version: Gauge,
    registry_loaded: Gauge<f64, AtomicU64>,
    credential_reloads: Family<ReloadLabels, Counter>,
    registry_store_up: Gauge,
    registry_store_requests: Family<StoreRequestLabels, Counter>,
    /// Whether the listeners are bound and serving (for `/readyz`).
    listening: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("rebucket"),
            requests: Family::default(),
            bytes_in: Family::default(),
            bytes_out: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            upstream_seconds: Family::new_with_constructor(latency_histogram),
            upstream_errors: Family::default(),
            in_flight: Gauge::default(),
            connections: Family::default(),
            upstream_clients: Gauge::default(),
            discovery: Family::default(),
            lean_path: Family::default(),
            registry_version: Gauge::default(),
            registry_loaded: Gauge::default(),
            credential_reloads: Family::default(),
            registry_store_up: Gauge::default(),
            registry_store_requests: Family::default(),
            listening: AtomicBool::new(false),
        };
        let r = &mut m.registry;
        r.register(
            "requests",
            "S3 requests answered, by operation, bucket and status class",
            m.requests.clone(),
        );
        r.register(
            "received_bytes",
            "Request body bytes received from clients, by bucket",
            m.bytes_in.clone(),
        );
        r.register(
            "sent_bytes",
            "Answer body bytes sent to clients, by bucket",
            m.bytes_out.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Time from a request's arrival to its answer's headers, by operation",
            m.request_seconds.clone(),
        );
        r.register(
            "upstream_duration_seconds",
            "Time a request spent waiting for upstream answers' headers, by operation (requests that called an upstream)",
            m.upstream_seconds.clone(),
        );
        r.register(
            "upstream_errors",
            "Upstream calls that failed without an S3 error, by endpoint and kind",
            m.upstream_errors.clone(),
        );
        r.register(
            "requests_in_flight",
            "S3 requests being answered",
            m.in_flight.clone(),
        );
        r.register(
            "open_connections",
            "Open client connections, by listener",
            m.connections.clone(),
        );
        r.register(
            "upstream_clients",
            "Cached upstream S3 clients",
            m.upstream_clients.clone(),
        );
        r.register(
            "discovery_lookups",
            "Region look-ups of buckets used for the first time, by result",
            m.discovery.clone(),
        );
        r.register(
            "lean_path",
            "GET, HEAD and upload requests the lean path considered, by result: answered (sent without the SDK) or declined (served the SDK's way)",
            m.lean_path.clone(),
        );
        r.register(
            "registry_version",
            "Version of the bucket registry in force",
            m.registry_version.clone(),
        );
        r.register(
            "registry_loaded_timestamp_seconds",
            "When the bucket registry was last loaded from the data dir (Unix time)",
            m.registry_loaded.clone(),
        );
        r.register(
            "credential_reloads",
            "Re-reads of the AWS shared files, by trigger and result",
            m.credential_reloads.clone(),
        );
        r.register(
            "registry_store_up",
            "Whether the shared registry store answered its last request (1) or not (0); absent with a local registry file",
            m.registry_store_up.clone(),
        );
        r.register(
            "registry_store_requests",
            "Requests to the shared registry store, by operation and result",
            m.registry_store_requests.clone(),
        );
        m
    }

    /// The metrics in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8 << 10);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// The `Content-Type` of [`Metrics::encode`]'s text.
    pub const CONTENT_TYPE: &'static str =
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

    /// A request started; the guard counts it in flight until dropped.
    pub fn request_started(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// Counts one answered request (see [`Finished`]).
    pub fn request_finished(&self, f: Finished) {
        let bucket = BucketLabels { bucket: f.bucket };
        if f.bytes_in > 0 {
            self.bytes_in.get_or_create(&bucket).inc_by(f.bytes_in);
        }
        if f.bytes_out > 0 {
            self.bytes_out.get_or_create(&bucket).inc_by(f.bytes_out);
        }
        let op = OperationLabels {
            operation: f.operation,
        };
        self.request_seconds
            .get_or_create(&op)
            .observe(f.total.as_secs_f64());
        if let Some(upstream) = f.upstream {
            self.upstream_seconds
                .get_or_create(&op)
                .observe(upstream.as_secs_f64());
        }
        self.requests
            .get_or_create(&RequestLabels {
                operation: f.operation,
                bucket: bucket.bucket,
                status: f.status,
            })
            .inc();
    }

    /// Counts an upstream call that failed without an S3 error.
    pub fn upstream_error(&self, endpoint: String, kind: &'static str) {
        self.upstream_errors
            .get_or_create(&UpstreamErrorLabels { endpoint, kind })
            .inc();
    }

    /// Counts a finished region look-up.
    pub fn discovery(&self, ok: bool) {
        self.discovery
            .get_or_create(&ResultLabels {
                result: if ok { "ok" } else { "error" },
            })
            .inc();
    }

    /// Counts a request the lean path considered: `answered` it, or left it to the SDK path.
    pub fn lean_path(&self, answered: bool) {
        self.lean_path
            .get_or_create(&ResultLabels {
                result: if answered { "answered" } else { "declined" },
            })
            .inc();
    }

    /// Counts a re-read of the AWS shared files.
    pub fn credential_reload(&self, trigger: &'static str, ok: bool) {
        self.credential_reloads
            .get_or_create(&ReloadLabels {
                trigger,
                result: if ok { "ok" } else { "error" },
            })
            .inc();
    }

    /// Counts a request to the shared registry store.
    pub fn registry_store_request(&self, op: &'static str, result: &'static str) {
        self.registry_store_requests
            .get_or_create(&StoreRequestLabels { op, result })
            .inc();
    }

    /// How many requests were sent to the shared registry store (every op and result).
    pub fn registry_store_requests(&self) -> u64 {
        let mut total = 0;
        for op in ["get", "put"] {
            for result in ["ok", "not_modified", "conflict", "error"] {
                total += self
                    .registry_store_requests
                    .get_or_create(&StoreRequestLabels { op, result })
                    .get();
            }
        }
        total
    }

    /// Notes whether the shared registry store answered its last request.
    pub fn registry_store_up(&self, up: bool) {
        self.registry_store_up.set(i64::from(up));
    }

    /// Notes that the registry was loaded from the data dir now.
    pub fn registry_loaded(&self) {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        self.registry_loaded.set(now.as_secs_f64());
    }

    /// Samples the values read at scrape time: the registry's version and the cached clients.
    pub fn sample(&self, registry_version: u64, upstream_clients: usize) {
        self.registry_version
            .set(i64::try_from(registry_version).unwrap_or(i64::MAX));
        self.upstream_clients
            .set(i64::try_from(upstream_clients).unwrap_or(i64::MAX));
    }

    /// A connection was accepted on `listener`; the guard counts it open until dropped.
    pub fn connection_opened(&self, listener: &'static str) -> OpenConnection {
        let gauge = self
            .connections
            .get_or_create_owned(&ListenerLabels { listener });
        gauge.inc();
        OpenConnection(gauge)
    }

    /// Sets whether the listeners are bound and serving.
    pub fn set_listening(&self, up: bool) {
        self.listening.store(up, Ordering::Release);
    }

    /// Whether the listeners are bound and serving.
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }
}

/// What the front knows about an answered request.
#[derive(Debug)]
pub struct Finished {
    pub operation: &'static str,
    /// A registered bucket's name, else [`OTHER_BUCKET`] (see [`bucket_label`]); empty for
    /// requests that name no bucket.
    pub bucket: Cow<'static, str>,
    pub status: &'static str,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub total: Duration,
    /// Time spent waiting for upstreams, if the request called one.
    pub upstream: Option<Duration>,
}

/// The bucket label of `bucket`: its name if `registered`, empty if none, else `other`.
pub fn bucket_label(bucket: String, registered: bool) -> Cow<'static, str> {
    if bucket.is_empty() || registered {
        Cow::Owned(bucket)
    } else {
        Cow::Borrowed(OTHER_BUCKET)
    }
}

/// The status class label of `status` (`2xx`).
pub fn status_class(status: http::StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// A request in flight; counted down when dropped.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// An open connection; counted down when dropped.
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A service whose listener counts its open connections (`server.rs` asks each accepted
/// connection's service).
pub trait CountsConnections {
    /// The guard of a connection just accepted, if this listener counts them.
    fn connection_opened(&self) -> Option<OpenConnection> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_family_with_its_labels() {
        let m = Metrics::new();
        m.request_finished(Finished {
            operation: "GetObject",
            bucket: bucket_label("b1".into(), true),
            status: status_class(http::StatusCode::OK),
            bytes_in: 0,
            bytes_out: 5,
            total: Duration::from_millis(3),
            upstream: Some(Duration::from_millis(2)),
        });
        m.upstream_error("http://127.0.0.1:9".into(), "refused");
        let _open = m.connection_opened("s3");
        let text = m.encode();
        assert!(
            text.contains(
                r#"rebucket_requests_total{operation="GetObject",bucket="b1",status="2xx"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"rebucket_sent_bytes_total{bucket="b1"} 5"#));
        assert!(
            text.contains(r#"rebucket_request_duration_seconds_count{operation="GetObject"} 1"#)
        );
        assert!(text.contains(
            r#"rebucket_upstream_errors_total{endpoint="http://127.0.0.1:9",kind="refused"} 1"#
        ));
        assert!(text.contains(r#"rebucket_open_connections{listener="s3"} 1"#));
        assert_eq!(bucket_label("nope".into(), false), OTHER_BUCKET);
    }
}
