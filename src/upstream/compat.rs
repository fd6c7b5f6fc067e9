//! Answers of S3-compatible servers that the AWS SDK would refuse, mended before it reads them.
//! A client talking to such a server directly (boto3 reads leniently) works, so through
//! rebucket it must too. The mending happens in the HTTP layer of the upstream clients:
//! - The AWS SDK checks the root element of every XML answer; some servers name it differently
//!   (moto: `<OperationResponse>`; rclone: `<InitiateMultipartUpload>`) while the content is
//!   what S3 sends. Only the small XML answers of the operations listed in [`ROOTS`] are read;
//!   object bodies are never touched or buffered.
//! - The SDK fails the whole call on a `Last-Modified` header that is not an HTTP date; moto
//!   answers GetObjectAttributes with an ISO 8601 one (`2026-11-28T03:19:50.000Z`), which
//!   names the same instant, so it is rewritten as the HTTP date S3 sends.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;

/// (method, query key, the root element S3 sends) of the XML answers that are mended.
pub const ROOTS: &[(&str, &str, &str)] = &[
    ("POST", "uploads", "InitiateMultipartUploadResult"),
    ("POST", "uploadId", "CompleteMultipartUploadResult"),
    ("POST", "delete", "DeleteResult"),
    ("GET", "uploads", "ListMultipartUploadsResult"),
    ("GET", "uploadId", "ListPartsResult"),
    ("GET", "versioning", "VersioningConfiguration"),
    ("GET", "acl", "AccessControlPolicy"),
    ("GET", "tagging", "Tagging"),
    ("GET", "cors", "CORSConfiguration"),
    ("GET", "lifecycle", "LifecycleConfiguration"),
    ("GET", "encryption", "ServerSideEncryptionConfiguration"),
    ("GET", "website", "WebsiteConfiguration"),
    ("GET", "notification", "NotificationConfiguration"),
    ("GET", "ownershipControls", "OwnershipControls"),
    ("GET", "logging", "BucketLoggingStatus"),
    ("GET", "object-lock", "ObjectLockConfiguration"),
    ("GET", "publicAccessBlock", "PublicAccessBlockConfiguration"),
    ("GET", "policyStatus", "PolicyStatus"),
    ("GET", "retention", "Retention"),
    ("GET", "legal-hold", "LegalHold"),
    ("GET", "requestPayment", "RequestPaymentConfiguration"),
    ("GET", "accelerate", "AccelerateConfiguration"),
    ("GET", "replication", "ReplicationConfiguration"),
    ("GET", "versions", "ListVersionsResult"),
];

/// Whether `actual` is a misnamed `expected` root: the operation's name with `Response` (moto's
/// generic serializer), or the S3 name without its `Result` suffix (rclone).
fn is_alias(actual: &str, expected: &str) -> bool {
    actual != expected
        && (actual.ends_with("Response") || expected.strip_suffix("Result") == Some(actual))
}

/// XML answers larger than this are passed through untouched.
const MAX_MENDED: usize = 1 << 20;

/// Wraps an HTTP client with the mending connector.
pub fn mending(inner: SharedHttpClient) -> SharedHttpClient {
    SharedHttpClient::new(MendingClient(inner))
}

#[derive(Debug)]
struct MendingClient(SharedHttpClient);

impl HttpClient for MendingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(MendingConnector(
            self.0.http_connector(settings, components),
        ))
    }
}

#[derive(Debug)]
struct MendingConnector(SharedHttpConnector);

/// The root S3 sends for a request, by its method and query keys.
fn expected_root(method: &str, query: Option<&str>) -> Option<&'static str> {
    let keys: Vec<&str> = query?
        .split('&')
        .map(|kv| kv.split('=').next().unwrap_or(""))
        .collect();
    ROOTS
        .iter()
        .find(|(m, key, _)| *m == method && keys.contains(key))
        .map(|(_, _, root)| *root)
}

/// Renames a misnamed root element to `s3` (opening and closing tag); `None` when the root is
/// already right or is not a known misnaming.
pub fn rename_root(xml: &str, s3: &str) -> Option<String> {
    let body_start = if xml.starts_with("<?") {
        xml.find("?>")? + 2
    } else {
        0
    };
    let rest = xml[body_start..].trim_start();
    let prefix = &xml[..xml.len() - rest.len()];
    let after_lt = rest.strip_prefix('<')?;
    let name_len = after_lt.find(['>', ' ', '/', '\n', '\r', '\t'])?;
    let alias = &after_lt[..name_len];
    if !is_alias(alias, s3) {
        return None;
    }
    let after = &after_lt[name_len..];
    let mut out = String::with_capacity(xml.len() + 16);
    out.push_str(prefix);
    out.push('<');
    out.push_str(s3);
    out.push_str(after);
    let close = format!("</{alias}>");
    if let Some(pos) = out.rfind(close.as_str()) {
        out.replace_range(pos..pos + close.len(), &format!("</{s3}>"));
    }
    Some(out)
}

/// `Last-Modified` as an HTTP date when the upstream sent ISO 8601 (`None` when it is fine or
/// not a date at all: then the SDK reports it).
fn http_date(last_modified: &str) -> Option<String> {
    use aws_smithy_types::date_time::{DateTime, Format};
    if DateTime::from_str(last_modified, Format::HttpDate).is_ok() {
        return None;
    }
    DateTime::from_str(last_modified.trim(), Format::DateTime)
        .ok()?
        .fmt(Format::HttpDate)
        .ok()
}

/// Rewrites an ISO 8601 `Last-Modified` header as S3's HTTP date.
fn mend_last_modified(headers: &mut aws_smithy_runtime_api::http::Headers) {
    if let Some(date) = headers.get("last-modified").and_then(http_date) {
        headers.insert("last-modified", date);
    }
}

impl HttpConnector for MendingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let expected = expected_root(
            request.method(),
            request.uri().split_once('?').map(|(_, q)| q),
        );
        let fut = self.0.call(request);
        HttpConnectorFuture::new(async move {
            let mut resp = fut.await?;
            mend_last_modified(resp.headers_mut());
            let Some(expected) = expected else {
                return Ok(resp);
            };
            let small = resp
                .headers()
                .get("content-length")
                .and_then(|v| v.parse::<usize>().ok())
                .is_some_and(|n| n <= MAX_MENDED);
            if !resp.status().is_success() || !small {
                return Ok(resp);
            }
            let bytes = resp
                .take_body()
                .collect()
                .await
                .map_err(ConnectorError::io)?
                .to_bytes();
            let mended = std::str::from_utf8(&bytes)
                .ok()
                .and_then(|xml| rename_root(xml, expected));
            let body = match mended {
                Some(xml) => {
                    resp.headers_mut()
                        .insert("content-length", xml.len().to_string());
                    SdkBody::from(xml)
                }
                None => SdkBody::from(bytes),
            };
            *resp.body_mut() = body;
            Ok(resp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{expected_root, http_date, rename_root};

    #[test]
    fn renames_only_a_misnamed_root_element() {
        let xml = "<?xml version=\"1.0\"?>\n<InitiateMultipartUpload xmlns=\"x\"><Bucket>b</Bucket></InitiateMultipartUpload>";
        assert_eq!(
            rename_root(xml, "InitiateMultipartUploadResult").as_deref(),
            Some(
                "<?xml version=\"1.0\"?>\n<InitiateMultipartUploadResult xmlns=\"x\"><Bucket>b</Bucket></InitiateMultipartUploadResult>"
            )
        );
        let s3 =
            "<InitiateMultipartUploadResult><Bucket>b</Bucket></InitiateMultipartUploadResult>";
        assert_eq!(rename_root(s3, "InitiateMultipartUploadResult"), None);
        let empty = "<GetBucketVersioningResponse xmlns=\"x\"/>";
        assert_eq!(
            rename_root(empty, "VersioningConfiguration").as_deref(),
            Some("<VersioningConfiguration xmlns=\"x\"/>")
        );
        // A listing where a configuration was expected is not a misnaming: left alone.
        assert_eq!(
            rename_root("<ListBucketResult></ListBucketResult>", "CORSConfiguration"),
            None
        );
    }

    #[test]
    fn applies_by_method_and_query_key() {
        assert_eq!(
            expected_root("POST", Some("uploads")),
            Some("InitiateMultipartUploadResult")
        );
        assert_eq!(
            expected_root("POST", Some("uploadId=abc")),
            Some("CompleteMultipartUploadResult")
        );
        assert_eq!(
            expected_root("GET", Some("uploadId=abc")),
            Some("ListPartsResult")
        );
        assert_eq!(
            expected_root("PUT", Some("uploadId=abc&partNumber=1")),
            None
        );
        assert_eq!(expected_root("GET", None), None);
    }

    #[test]
    fn an_iso_8601_last_modified_becomes_an_http_date() {
        assert_eq!(
            http_date("2026-11-28T03:19:50.000Z").as_deref(),
            Some("Sat, 28 Nov 2026 03:19:50 GMT")
        );
        assert_eq!(http_date("Sat, 28 Nov 2026 03:19:50 GMT"), None);
        assert_eq!(http_date("yesterday"), None);
    }
}
