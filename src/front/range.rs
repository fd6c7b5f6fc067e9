//! GET and HEAD requests whose `Range` header is not one byte range.
//!
//! S3 ignores a `Range` it cannot honour — `bytes=20-10`, several ranges, another unit,
//! garbage — and answers with the whole object. s3s parses the header while it decodes the
//! operation and answers 400 before any operation runs. So such a request is taken by this
//! route once s3s has checked its signature (routes are matched after that), and handed,
//! without the header and without its now-checked credentials, to a second s3s service over
//! the same gateway that runs without authentication. That service is reachable only from
//! here: it has no listener. The request keeps the front's [`Unsigned`] mark (the buckets an
//! unsigned caller reaches only unsigned).

use s3s::service::S3Service;
use s3s::{Body, S3Request, S3Response, S3Result};

use super::error::FrontError;
use crate::gateway::Unsigned;

/// The route, with the unauthenticated service it hands requests to.
pub struct IgnoredRange {
    inner: S3Service,
}

/// Query parameters that carry a presigned request's signature (SigV4 and SigV2).
const SIGNATURE_PARAMS: &[&str] = &[
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signedheaders",
    "x-amz-signature",
    "x-amz-security-token",
    "awsaccesskeyid",
    "signature",
    "expires",
];

impl IgnoredRange {
    /// `inner`: the front's own settings (host, config) without authentication, for requests
    /// whose signature the front has checked.
    pub fn new(inner: S3Service) -> Self {
        Self { inner }
    }

    /// Whether `headers` hold a `Range` that s3s would refuse.
    pub(super) fn unusable_range(headers: &http::HeaderMap) -> bool {
        headers.get(http::header::RANGE).is_some_and(|v| {
            v.to_str()
                .map_or(true, |v| s3s::dto::Range::parse(v).is_err())
        })
    }
}

/// `uri` without the presigned-signature parameters.
pub(super) fn unsigned_uri(uri: &http::Uri) -> http::Uri {
    let Some(query) = uri.query() else {
        return uri.clone();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            !SIGNATURE_PARAMS.contains(&name.to_ascii_lowercase().as_str())
        })
        .collect();
    let path_and_query = if kept.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{}", uri.path(), kept.join("&"))
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    http::Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

#[async_trait::async_trait]
impl s3s::route::S3Route for IgnoredRange {
    fn is_match(
        &self,
        method: &http::Method,
        _uri: &http::Uri,
        headers: &http::HeaderMap,
        _extensions: &mut http::Extensions,
    ) -> bool {
        (method == http::Method::GET || method == http::Method::HEAD)
            && Self::unusable_range(headers)
    }

    async fn call(&self, mut req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        req.headers.remove(http::header::RANGE);
        self.hand_over(req).await
    }
}

impl IgnoredRange {
    /// Serves a GET or HEAD whose signature and access the front checked through the
    /// unauthenticated service, without its credentials (also what the lean path declines,
    /// see `super::lean`).
    pub(super) async fn hand_over(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let mut headers = req.headers;
        headers.remove(http::header::AUTHORIZATION);
        let mut forwarded = http::Request::new(Body::empty());
        // The buckets the front's check lets an unsigned caller reach only unsigned.
        if let Some(unsigned) = req.extensions.get::<Unsigned>() {
            forwarded.extensions_mut().insert(unsigned.clone());
        }
        *forwarded.method_mut() = req.method;
        *forwarded.uri_mut() = unsigned_uri(&req.uri);
        *forwarded.headers_mut() = headers;
        let resp = self
            .inner
            .call(forwarded)
            .await
            .map_err(|e| FrontError::Internal(format!("{e:?}")))?;
        Ok(s3_response(resp))
    }
}

/// An HTTP answer as a route's answer, which s3s passes on as it is: status, headers, body, and
/// what the gateway attached for the front's HTTP layer (the upstream's status:
/// `Parity::after`).
pub(super) fn s3_response(resp: http::Response<Body>) -> S3Response<Body> {
    let (parts, body) = resp.into_parts();
    let mut out = S3Response::new(body);
    out.status = Some(parts.status);
    out.headers = parts.headers;
    out.extensions = parts.extensions;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ranges_s3s_refuses_are_taken() {
        let with = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(http::header::RANGE, v.parse().unwrap());
            IgnoredRange::unusable_range(&h)
        };
        for bad in ["bytes=20-10", "bytes=0-1,5-6", "items=0-5", "bytes=abc"] {
            assert!(with(bad), "{bad}");
        }
        for good in ["bytes=0-9", "bytes=-10", "bytes=5-"] {
            assert!(!with(good), "{good}");
        }
        assert!(!IgnoredRange::unusable_range(&http::HeaderMap::new()));
    }

    #[test]
    fn presigned_signature_parameters_are_dropped() {
        let uri: http::Uri = "/b/k?versionId=v1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab&response-content-type=text%2Fplain"
            .parse()
            .unwrap();
        assert_eq!(
            unsigned_uri(&uri).to_string(),
            "/b/k?versionId=v1&response-content-type=text%2Fplain"
        );
        let uri: http::Uri = "/b/k?X-Amz-Signature=ab".parse().unwrap();
        assert_eq!(unsigned_uri(&uri).to_string(), "/b/k");
    }
}
