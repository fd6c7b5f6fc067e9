//! Upstream requests sent without the AWS SDK: the lean path's reads (see `gateway::lean`).
//!
//! A request the client sent is re-addressed to the route's upstream ([`object_uri`]), signed
//! with `aws-sigv4` for the route's static credentials and region ([`sign`]), and sent over the
//! same HTTP client as the SDK's calls ([`Direct`]): the pool's bounded and guarded connector,
//! so the connect, first-byte and idle bounds, the destinations guard and the keep-alive pool
//! are the ones every upstream call has. The answer comes back as the upstream sent it, its body
//! streamed.
//!
//! Signing follows what the SDK does for S3 (AWS General Reference, "Signature Version 4
//! signing process"; Amazon S3 API Reference, "Signature Calculations for the Authorization
//! Header"): the path encoded once and not normalized, `x-amz-content-sha256` sent and signed,
//! every header sent signed except the few SigV4 implementations leave out (`user-agent`, ...).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign as sigv4_sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_types::body::SdkBody;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::UpstreamKey;
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
pub fn static_identity(source: &CredentialSource) -> Option<Identity> {
    let CredentialSource::Static(StaticCredentials {
        access_key_id,
        secret_access_key,
        session_token,
    }) = source
    else {
        return None;
    };
    Some(
        Credentials::new(
            access_key_id,
            secret_access_key,
            session_token.clone(),
            None,
            "rebucket",
        )
        .into(),
    )
}

/// The URI of object `key` (not encoded) of upstream bucket `bucket` at `upstream`'s endpoint,
/// with `query` (already encoded) appended: path style `<endpoint>/<bucket>/<key>`, virtual-hosted
/// `<bucket>.<endpoint host>/<key>`; an empty `key` names the bucket itself (`<endpoint>/<bucket>`,
/// as the SDK addresses a listing). `None` where the SDK's endpoint rules would do more than
/// that: AWS's own endpoints (FIPS, dual-stack, accelerate, regional quirks), an endpoint with a
/// path, a virtual-hosted bucket name that is no DNS label.
pub fn object_uri(
    upstream: &UpstreamKey,
    bucket: &str,
    key: &str,
    query: Option<&str>,
) -> Option<http::Uri> {
    let endpoint: http::Uri = upstream.endpoint.as_deref()?.parse().ok()?;
    let scheme = endpoint.scheme_str()?;
    let authority = endpoint.authority()?;
    if endpoint.path() != "/" && !endpoint.path().is_empty() || endpoint.query().is_some() {
        return None;
    }
    let slash = if key.is_empty() { "" } else { "/" };
    let key = utf8_percent_encode(key, KEY);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    let uri = if upstream.path_style {
        format!("{scheme}://{authority}/{bucket}{slash}{key}{query}")
    } else {
        if bucket.contains('.') {
            return None;
        }
        format!("{scheme}://{bucket}.{authority}/{key}{query}")
    };
    uri.parse().ok()
}

/// Signs `req` for service `s3` in `region` with `identity`, its body as `payload` says:
/// sets `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` when there is a session
/// token, and `authorization`. Fails on a header value that is not visible ASCII, which SigV4
/// cannot sign as sent.
pub fn sign<B>(
    req: &mut http::Request<B>,
    identity: &Identity,
    region: &str,
    payload: Payload,
    now: SystemTime,
) -> Result<(), SignError> {
    req.headers_mut().insert(
        "x-amz-content-sha256",
        http::HeaderValue::from_static(payload.hash()),
    );
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name("s3")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| SignError(e.to_string()))?
        .into();
    let uri = req.uri().to_string();
    let mut headers = Vec::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        let value = value
            .to_str()
            .map_err(|_| SignError(format!("header {name} is not visible ASCII")))?;
        headers.push((name.as_str(), value));
    }
    let signable = SignableRequest::new(
        req.method().as_str(),
        uri.as_str(),
        headers.into_iter(),
        SignableBody::Precomputed(payload.hash().to_owned()),
    )
    .map_err(|e| SignError(e.to_string()))?;
    let (instructions, _) = sigv4_sign(signable, &params)
        .map_err(|e| SignError(e.to_string()))?
        .into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(())
}

/// A request the lean path cannot sign as sent (it goes the SDK's way instead).
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the upstream request: {0}")]
pub struct SignError(String);

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(endpoint: Option<&str>, path_style: bool) -> UpstreamKey {
        UpstreamKey {
            endpoint: endpoint.map(str::to_owned),
            region: "us-east-1".into(),
            path_style,
            credentials: CredentialSource::Anonymous,
        }
    }

    #[test]
    fn object_uris_encode_the_key_once_and_keep_the_query() {
        let up = upstream(Some("http://127.0.0.1:9000"), true);
        assert_eq!(
            object_uri(&up, "back", "a b/ü+~.txt", Some("versionId=v%2B1"))
                .unwrap()
                .to_string(),
            "http://127.0.0.1:9000/back/a%20b/%C3%BC%2B~.txt?versionId=v%2B1"
        );
        let up = upstream(Some("http://minio.local:9000"), false);
        assert_eq!(
            object_uri(&up, "back", "k", None).unwrap().to_string(),
            "http://back.minio.local:9000/k"
        );
        // The bucket itself, as the SDK addresses a listing.
        assert_eq!(
            object_uri(
                &upstream(Some("http://127.0.0.1:9000"), true),
                "back",
                "",
                Some("list-type=2")
            )
            .unwrap()
            .to_string(),
            "http://127.0.0.1:9000/back?list-type=2"
        );
        assert_eq!(
            object_uri(&up, "back", "", None).unwrap().to_string(),
            "http://back.minio.local:9000/"
        );
    }

    #[test]
    fn object_uris_are_left_to_the_sdk_where_its_endpoint_rules_do_more() {
        assert!(object_uri(&upstream(None, true), "b", "k", None).is_none());
        let prefixed = upstream(Some("http://gw.local/s3"), true);
        assert!(object_uri(&prefixed, "b", "k", None).is_none());
        let virtual_hosted = upstream(Some("http://gw.local"), false);
        assert!(object_uri(&virtual_hosted, "a.b", "k", None).is_none());
    }
}
