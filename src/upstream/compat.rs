//! Answers of S3-compatible servers that the AWS SDK would refuse, mended before it reads them.
//!
//! The AWS SDK checks the root element of every XML answer; some servers name it differently
//! while the content is what S3 sends. A client talking to such a server directly (boto3 reads
//! XML leniently) works, so through rebucket it must too. The mending happens in the HTTP layer
//! of the upstream clients, only for the small XML answers of the operations listed in
//! [`ROOT_ALIASES`]; object bodies are never touched or buffered.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;

/// (request query key, the root element S3 sends, a root some servers send instead).
pub const ROOT_ALIASES: &[(&str, &str, &str)] = &[
    // rclone `serve s3` (gofakes3): CreateMultipartUpload.
    (
        "uploads",
        "InitiateMultipartUploadResult",
        "InitiateMultipartUpload",
    ),
    // moto: GetBucketVersioning.
    (
        "versioning",
        "VersioningConfiguration",
        "GetBucketVersioningResponse",
    ),
];

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

/// The aliases that apply to a request, by its query keys.
fn aliases_for(query: Option<&str>) -> Vec<(&'static str, &'static str)> {
    let Some(query) = query else {
        return Vec::new();
    };
    let keys: Vec<&str> = query
        .split('&')
        .map(|kv| kv.split('=').next().unwrap_or(""))
        .collect();
    ROOT_ALIASES
        .iter()
        .filter(|(key, _, _)| keys.contains(key))
        .map(|(_, s3, alias)| (*s3, *alias))
        .collect()
}

/// Renames the root element `alias` to `s3` (opening and closing tag); `None` if absent.
pub fn rename_root(xml: &str, s3: &str, alias: &str) -> Option<String> {
    let body_start = if xml.starts_with("<?") {
        xml.find("?>")? + 2
    } else {
        0
    };
    let rest = xml[body_start..].trim_start();
    let prefix = &xml[..xml.len() - rest.len()];
    let open = format!("<{alias}");
    let after = rest.strip_prefix(open.as_str())?;
    if !after.starts_with(['>', ' ', '/', '\n', '\r', '\t']) {
        return None;
    }
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

impl HttpConnector for MendingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let aliases = aliases_for(request.uri().split_once('?').map(|(_, q)| q));
        let fut = self.0.call(request);
        if aliases.is_empty() {
            return fut;
        }
        HttpConnectorFuture::new(async move {
            let mut resp = fut.await?;
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
            let mended = std::str::from_utf8(&bytes).ok().and_then(|xml| {
                aliases
                    .iter()
                    .find_map(|(s3, alias)| rename_root(xml, s3, alias))
            });
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
    use super::{aliases_for, rename_root};

    #[test]
    fn renames_only_the_root_element() {
        let xml = "<?xml version=\"1.0\"?>\n<InitiateMultipartUpload xmlns=\"x\"><Bucket>b</Bucket></InitiateMultipartUpload>";
        assert_eq!(
            rename_root(
                xml,
                "InitiateMultipartUploadResult",
                "InitiateMultipartUpload"
            )
            .as_deref(),
            Some(
                "<?xml version=\"1.0\"?>\n<InitiateMultipartUploadResult xmlns=\"x\"><Bucket>b</Bucket></InitiateMultipartUploadResult>"
            )
        );
        let s3 =
            "<InitiateMultipartUploadResult><Bucket>b</Bucket></InitiateMultipartUploadResult>";
        assert_eq!(
            rename_root(
                s3,
                "InitiateMultipartUploadResult",
                "InitiateMultipartUpload"
            ),
            None
        );
        let empty = "<GetBucketVersioningResponse xmlns=\"x\"/>";
        assert_eq!(
            rename_root(
                empty,
                "VersioningConfiguration",
                "GetBucketVersioningResponse"
            )
            .as_deref(),
            Some("<VersioningConfiguration xmlns=\"x\"/>")
        );
    }

    #[test]
    fn applies_by_query_key() {
        assert_eq!(aliases_for(Some("uploads")).len(), 1);
        assert_eq!(
            aliases_for(Some("uploads=&x-id=CreateMultipartUpload")).len(),
            1
        );
        assert!(aliases_for(Some("uploadId=abc&partNumber=1")).is_empty());
        assert!(aliases_for(None).is_empty());
    }
}
