//! Upstream requests sent without the AWS SDK: the lean path's reads (see `gateway::lean`).
//!
//! A request the client sent is re-addressed to the route's upstream by the SDK's endpoint rules
//! ([`bucket_endpoint`]), signed for the route's static credentials and the endpoint's region
//! ([`sign`], `super::sigv4`), and sent over the same HTTP client as the SDK's calls
//! ([`Direct`]): the pool's bounded and guarded connector, so the connect, first-byte and idle
//! bounds, the destinations guard and the keep-alive pool are the ones every upstream call has.
//! The answer comes back as the upstream sent it, its body streamed.

use std::time::{Duration, SystemTime};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_types::body::SdkBody;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::UpstreamKey;
use super::sigv4::{self, SignError};
use crate::profiles::{CredentialSource, StaticCredentials};

/// SHA-256 of an empty payload, the `x-amz-content-sha256` of a GET or HEAD.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What a request's `x-amz-content-sha256` says of its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// No body (GET, HEAD): the hash of nothing.
    Empty,
    /// A body streamed as it comes, not hashed first: `UNSIGNED-PAYLOAD` (Amazon S3 API
    /// Reference, "Signature Calculations for the Authorization Header").
    Unsigned,
}

impl Payload {
    fn hash(self) -> &'static str {
        match self {
            Self::Empty => EMPTY_SHA256,
            Self::Unsigned => "UNSIGNED-PAYLOAD",
        }
    }
}

/// What an object key's path segment escapes: everything but the unreserved characters of
/// RFC 3986 and `/`, as the SDK encodes an S3 key (a greedy label).
const KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The HTTP connector of the pool's client, callable without an SDK operation.
pub struct Direct {
    connector: SharedHttpConnector,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct").finish_non_exhaustive()
    }
}

impl Direct {
    /// The connector `client` gives with the SDK clients' connect timeout (hence the same
    /// connection pool as theirs). A smithy HTTP client hands out connectors for runtime
    /// components; only the sleep and time source are read from them here, the rest are the
    /// smithy runtime's inert defaults.
    pub fn new(client: &SharedHttpClient, connect_timeout: Duration) -> Self {
        use aws_smithy_runtime::client::auth::no_auth::{NO_AUTH_SCHEME_ID, NoAuthScheme};
        use aws_smithy_runtime::client::identity::IdentityCache;
        use aws_smithy_runtime::client::identity::no_auth::NoAuthIdentityResolver;
        use aws_smithy_runtime::client::orchestrator::endpoints::StaticUriEndpointResolver;
        use aws_smithy_runtime::client::retries::strategy::NeverRetryStrategy;
        use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
        let components = RuntimeComponentsBuilder::new("rebucket-direct")
            .with_auth_scheme_option_resolver(Some(StaticAuthSchemeOptionResolver::new(vec![
                NO_AUTH_SCHEME_ID,
            ])))
            .with_endpoint_resolver(Some(StaticUriEndpointResolver::uri("http://unused")))
            .with_auth_scheme(NoAuthScheme::new())
            .with_identity_cache(Some(IdentityCache::no_cache()))
            .with_identity_resolver(NO_AUTH_SCHEME_ID, NoAuthIdentityResolver::new())
            .with_retry_strategy(Some(NeverRetryStrategy::new()))
            .with_sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep())
            .with_time_source(Some(aws_smithy_async::time::SystemTimeSource::new()))
            .build()
            .expect("every required runtime component is set");
        let settings = HttpConnectorSettings::builder()
            .connect_timeout(connect_timeout)
            .build();
        Self {
            connector: client.http_connector(&settings, &components),
        }
    }

    /// Sends `req` as it is (already signed).
    pub async fn send(
        &self,
        req: http::Request<SdkBody>,
    ) -> Result<http::Response<SdkBody>, ConnectorError> {
        let req = HttpRequest::try_from(req).map_err(|e| ConnectorError::user(Box::new(e)))?;
        let resp = self.connector.call(req).await?;
        resp.try_into_http1x()
            .map_err(|e| ConnectorError::other(Box::new(e), None))
    }
}

/// The credentials a route's upstream requests are signed with, when the lean path can sign
/// them itself: static keys only (assumed roles and `credential_process` keep the SDK's
/// identity cache and refresh).
pub fn static_credentials(source: &CredentialSource) -> Option<&StaticCredentials> {
    match source {
        CredentialSource::Static(credentials) => Some(credentials),
        _ => None,
    }
}

/// A bucket's endpoint as the SDK addresses it, for the lean path's requests on its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketEndpoint {
    /// `scheme://authority` and the endpoint's path, without a trailing `/`.
    prefix: String,
    /// The region requests to it are signed for.
    pub signing_region: String,
}

impl BucketEndpoint {
    /// The URI of object `key` (not encoded; empty for a listing) with `query` (already
    /// encoded) appended: `/<key>` joined to the endpoint's path as the SDK's runtime joins a
    /// request's path to its endpoint's.
    pub fn target(&self, key: &str, query: Option<&str>) -> Option<http::Uri> {
        let key = utf8_percent_encode(key, KEY);
        let mut uri = format!("{}/{key}", self.prefix);
        if let Some(query) = query {
            uri.push('?');
            uri.push_str(query);
        }
        uri.parse().ok()
    }
}

/// The endpoint the SDK sends requests for upstream bucket `bucket` at `upstream` to: as the
/// SDK's own endpoint rules resolve it for the SDK clients' settings (`UpstreamPool::build`:
/// region, endpoint URL, path style; no FIPS, dual-stack or accelerate). So AWS's endpoints
/// (`<bucket>.s3.<region>.amazonaws.com`, other partitions' domains, path style for a bucket
/// name that is no DNS label) and an explicit endpoint's (its path, an IP host) are the SDK
/// path's by construction. `None` where the rules want more than SigV4 for `s3` (directory
/// buckets, access points, Multi-Region Access Points) or resolve nothing.
pub fn bucket_endpoint(upstream: &UpstreamKey, bucket: &str) -> Option<BucketEndpoint> {
    use aws_sdk_s3::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    // An ARN (an access point, a Multi-Region Access Point) is the SDK's to address and sign.
    if bucket.contains(':') {
        return None;
    }
    let params = Params::builder()
        .bucket(bucket)
        .region(upstream.region.as_str())
        .use_fips(false)
        .use_dual_stack(false)
        .accelerate(false)
        .force_path_style(upstream.path_style)
        .set_endpoint(upstream.endpoint.clone())
        .build()
        .ok()?;
    let resolver = DefaultResolver::new();
    let mut resolving = std::pin::pin!(resolver.resolve_endpoint(&params));
    let Poll::Ready(Ok(endpoint)) = resolving
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    else {
        return None;
    };
    // Any property (`backend = S3Express`, ...) or header asks for more than an address.
    if !endpoint.properties().is_empty() || endpoint.headers().next().is_some() {
        return None;
    }
    let signing_region = sigv4_s3_region(endpoint.auth_schemes())?
        .unwrap_or(&upstream.region)
        .to_owned();
    let base: http::Uri = endpoint.url().parse().ok()?;
    let scheme = base.scheme_str()?;
    let authority = base.authority()?;
    if base.query().is_some() {
        return None;
    }
    let base_path = base.path().trim_end_matches('/');
    Some(BucketEndpoint {
        prefix: format!("{scheme}://{authority}{base_path}"),
        signing_region,
    })
}

/// The signing region of a resolved S3 endpoint's first auth scheme (`Some(None)`: none named,
/// the route's), if that scheme is SigV4 for `s3`; `None` for any other (SigV4a, S3 Express).
fn sigv4_s3_region(
    schemes: &[aws_smithy_types::endpoint::EndpointAuthScheme],
) -> Option<Option<&str>> {
    let Some(scheme) = schemes.first() else {
        return Some(None);
    };
    let text = |name: &str| scheme.get(name).and_then(|d| d.as_string());
    if scheme.name() != "sigv4" || text("signingName").is_some_and(|n| n != "s3") {
        return None;
    }
    Some(text("signingRegion"))
}

/// Signs `req` for `s3` in `region` with `credentials`, its body as `payload` says (see
/// [`sigv4::sign`]).
pub fn sign<B>(
    req: &mut http::Request<B>,
    credentials: &StaticCredentials,
    region: &str,
    payload: Payload,
    now: SystemTime,
) -> Result<(), SignError> {
    sigv4::sign(req, credentials, region, payload.hash(), now)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
    use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};

    use super::*;
    use crate::upstream::{PoolSettings, UpstreamPool};

    fn upstream(endpoint: Option<&str>, region: &str, path_style: bool) -> UpstreamKey {
        UpstreamKey {
            endpoint: endpoint.map(str::to_owned),
            region: region.into(),
            path_style,
            credentials: CredentialSource::Static(StaticCredentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "secret".into(),
                session_token: None,
            }),
        }
    }

    fn target(up: &UpstreamKey, bucket: &str, key: &str, query: Option<&str>) -> Option<String> {
        let uri = bucket_endpoint(up, bucket)?.target(key, query)?;
        Some(uri.to_string())
    }

    #[test]
    fn targets_encode_the_key_once_and_keep_the_query() {
        let up = upstream(Some("http://127.0.0.1:9000"), "us-east-1", true);
        assert_eq!(
            target(&up, "back", "a b/ü+~.txt", Some("versionId=v%2B1")).unwrap(),
            "http://127.0.0.1:9000/back/a%20b/%C3%BC%2B~.txt?versionId=v%2B1"
        );
        let up = upstream(Some("http://minio.local:9000"), "us-east-1", false);
        assert_eq!(
            target(&up, "back", "k", None).unwrap(),
            "http://back.minio.local:9000/k"
        );
        let aws = upstream(None, "eu-west-3", false);
        let endpoint = bucket_endpoint(&aws, "back").unwrap();
        assert_eq!(
            endpoint.target("k", None).unwrap(),
            "https://back.s3.eu-west-3.amazonaws.com/k"
        );
        assert_eq!(endpoint.signing_region, "eu-west-3");
    }

    #[test]
    fn targets_are_left_to_the_sdk_where_its_rules_want_more_than_sigv4() {
        // A directory bucket (S3 Express: its own session auth) and an access point ARN.
        let aws = upstream(None, "us-west-2", false);
        assert_eq!(target(&aws, "data--usw2-az1--x-s3", "k", None), None);
        assert_eq!(
            target(
                &aws,
                "arn:aws:s3:us-west-2:123456789012:accesspoint/ap",
                "k",
                None
            ),
            None
        );
    }

    /// Records the URI and the credential scope's region of the request the SDK sends, and
    /// stops it there.
    #[derive(Debug, Default, Clone)]
    struct Sent(Arc<Mutex<Option<(String, String)>>>);

    impl Intercept for Sent {
        fn name(&self) -> &'static str {
            "Sent"
        }

        fn read_before_transmit(
            &self,
            ctx: &BeforeTransmitInterceptorContextRef<'_>,
            _rc: &RuntimeComponents,
            _cfg: &mut ConfigBag,
        ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
            let req = ctx.request();
            let auth = req.headers().get("authorization").unwrap_or_default();
            // `Credential=<key id>/<date>/<region>/s3/aws4_request`
            let region = auth.split('/').nth(2).unwrap_or_default().to_owned();
            *self.0.lock().unwrap() = Some((req.uri().to_owned(), region));
            Err("recorded".into())
        }
    }

    /// The SDK path's request for a GetObject of `key` (a ListObjectsV2 when empty), as its
    /// client for `up` would send it.
    async fn sent_by_sdk(
        pool: &UpstreamPool,
        up: &UpstreamKey,
        bucket: &str,
        key: &str,
    ) -> (String, String) {
        let sent = Sent::default();
        let config = pool
            .client(up)
            .config()
            .to_builder()
            .interceptor(sent.clone())
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        if key.is_empty() {
            let _ = client.list_objects_v2().bucket(bucket).send().await;
        } else {
            let _ = client.get_object().bucket(bucket).key(key).send().await;
        }
        let got = sent.0.lock().unwrap().take();
        got.expect("the SDK sent a request")
    }

    #[tokio::test]
    async fn targets_are_where_the_sdk_path_sends_the_same_request() {
        let pool = UpstreamPool::new(PoolSettings::default());
        let mut upstreams = Vec::new();
        for region in [
            "us-east-1",
            "eu-west-3",
            "cn-north-1",
            "us-gov-west-1",
            "aws-global",
        ] {
            for path_style in [false, true] {
                upstreams.push(upstream(None, region, path_style));
            }
        }
        for endpoint in [
            "http://127.0.0.1:9000",
            "http://minio.local:9000",
            "https://s3.example.com",
            "http://gw.local/s3",
            "http://gw.local/s3/",
            "http://[::1]:9000",
        ] {
            for path_style in [false, true] {
                upstreams.push(upstream(Some(endpoint), "us-east-1", path_style));
            }
        }
        let mut compared = 0;
        for up in &upstreams {
            for bucket in ["back", "my.dotted.bucket", "Upper_Case", "x1"] {
                for key in ["k", "a b/ü+~.txt", "dir/", ""] {
                    let query = key.is_empty().then_some("list-type=2");
                    let Some(endpoint) = bucket_endpoint(up, bucket) else {
                        panic!("no endpoint for {up:?} {bucket}");
                    };
                    let ours = endpoint.target(key, query).unwrap();
                    let (uri, region) = sent_by_sdk(&pool, up, bucket, key).await;
                    // The SDK adds its own query (`x-id=GetObject`); the addressing is the
                    // scheme, authority and path.
                    let sdk_path = uri.split('?').next().unwrap();
                    let ours_path = ours.to_string();
                    let ours_path = ours_path.split('?').next().unwrap();
                    assert_eq!(
                        (ours_path, endpoint.signing_region.as_str()),
                        (sdk_path, region.as_str()),
                        "{up:?} bucket {bucket} key {key:?}"
                    );
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, upstreams.len() * 16);
    }
}
