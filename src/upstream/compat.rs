//! Answers of S3-compatible servers that the AWS SDK (or s3s-aws's conversion of what it read)
//! would refuse, normalized before it reads them.
//!
//! - The AWS SDK checks the root element of every XML answer; some servers name it differently
//!   (moto: `<OperationResponse>`; rclone: `<InitiateMultipartUpload>`) or wrap the S3 document
//!   in another (SeaweedFS answers GetBucketLocation with `<CreateBucketConfiguration>` around
//!   the `<LocationConstraint>`), while the content is what S3 sends.
//! - s3s-aws refuses an empty `<ETag></ETag>` (rclone lists an object whose upload failed that
//!   way), failing the whole listing; it becomes `""`, S3's spelling of an empty ETag. An
//!   unquoted one (rclone's listings) is quoted, as s3s writes every ETag on the SDK path: the
//!   lean path passes listings on through [`normalized_listing`], and gives the same.
//! - The SDK reads only `true`/`false` as a boolean; MinIO-based servers (the JuiceFS gateway)
//!   answer GetBucketPolicyStatus with `<IsPublic>FALSE</IsPublic>`, spelled as S3 does.
//! - The SDK fails the whole call on a `Last-Modified` header that is not an HTTP date; moto
//!   answers GetObjectAttributes with an ISO 8601 one (`2026-11-28T03:19:50.000Z`), which
//!   names the same instant, so it is rewritten as the HTTP date S3 sends (any answer; a header).
//! - A header S3 sends once that comes repeated with one value (SeaweedFS's SSE-C key MD5) is
//!   kept once: the SDK refuses a list for a single-valued member (any answer; a header).
//!
//! A client talking to such a server directly (boto3 reads XML leniently) works, so through
//! rebucket it must too. The normalizing happens in the HTTP layer of the upstream clients, only for
//! the XML answers of the operations listed in [`ROOTS`] (an interceptor, [`MarkNormalized`], marks
//! their requests), which the SDK reads whole anyway (sized or chunked); object bodies are never
//! touched or buffered.

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{ConfigBag, Intercept};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;

/// (SDK operation, the root element S3 sends) of the XML answers that are normalized.
pub const ROOTS: &[(&str, &str)] = &[
    ("CreateMultipartUpload", "InitiateMultipartUploadResult"),
    ("CompleteMultipartUpload", "CompleteMultipartUploadResult"),
    ("DeleteObjects", "DeleteResult"),
    ("ListMultipartUploads", "ListMultipartUploadsResult"),
    ("ListParts", "ListPartsResult"),
    ("ListObjects", "ListBucketResult"),
    ("ListObjectsV2", "ListBucketResult"),
    ("ListObjectVersions", "ListVersionsResult"),
    ("GetBucketLocation", "LocationConstraint"),
    ("GetBucketVersioning", "VersioningConfiguration"),
    ("GetBucketAcl", "AccessControlPolicy"),
    ("GetObjectAcl", "AccessControlPolicy"),
    ("GetBucketTagging", "Tagging"),
    ("GetObjectTagging", "Tagging"),
    ("GetBucketCors", "CORSConfiguration"),
    ("GetBucketLifecycleConfiguration", "LifecycleConfiguration"),
    ("GetBucketEncryption", "ServerSideEncryptionConfiguration"),
    ("GetBucketWebsite", "WebsiteConfiguration"),
    (
        "GetBucketNotificationConfiguration",
        "NotificationConfiguration",
    ),
    ("GetBucketOwnershipControls", "OwnershipControls"),
    ("GetBucketLogging", "BucketLoggingStatus"),
    ("GetObjectLockConfiguration", "ObjectLockConfiguration"),
    ("GetPublicAccessBlock", "PublicAccessBlockConfiguration"),
    ("GetBucketPolicyStatus", "PolicyStatus"),
    ("GetObjectRetention", "Retention"),
    ("GetObjectLegalHold", "LegalHold"),
    ("GetBucketRequestPayment", "RequestPaymentConfiguration"),
    (
        "GetBucketAccelerateConfiguration",
        "AccelerateConfiguration",
    ),
    ("GetBucketReplication", "ReplicationConfiguration"),
    (
        "ListBucketMetricsConfigurations",
        "ListMetricsConfigurationsResult",
    ),
];

/// The normalizing an upstream request's answer gets: the root element S3 sends for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Normalize {
    /// The SDK operation.
    op: &'static str,
    root: &'static str,
}

/// The normalizing of the answers of SDK operation `op`, if they get any.
fn normalize_for(op: &str) -> Option<Normalize> {
    ROOTS
        .iter()
        .find(|(name, _)| *name == op)
        .map(|(op, root)| Normalize { op, root })
}

/// Marks the requests whose answers are normalized (the connector sees only the HTTP request).
#[derive(Debug)]
pub struct MarkNormalized;

impl Intercept for MarkNormalized {
    fn name(&self) -> &'static str {
        "MarkNormalized"
    }

    // Per attempt: a retried request is a fresh copy, without the extensions of the last one.
    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(normalize) = cfg.load::<Metadata>().and_then(|m| normalize_for(m.name())) {
            context.request_mut().add_extension(normalize);
        }
        Ok(())
    }
}

/// Whether `actual` is a misnamed `expected` root: the operation's name with `Response` (moto's
/// generic serializer), the S3 name without its `Result` suffix (rclone), or the operation's
/// name with `Result` where S3 shortens it (SeaweedFS: `ListBucketMetricsConfigurationsResult`
/// for `ListMetricsConfigurationsResult`).
fn is_alias(actual: &str, expected: &str, op: &str) -> bool {
    actual != expected
        && (actual.ends_with("Response")
            || expected.strip_suffix("Result") == Some(actual)
            || actual.strip_suffix("Result") == Some(op))
}

/// Wraps an HTTP client with the normalizing connector.
pub fn normalizing(inner: SharedHttpClient) -> SharedHttpClient {
    SharedHttpClient::new(NormalizingClient(inner))
}

#[derive(Debug)]
struct NormalizingClient(SharedHttpClient);

impl HttpClient for NormalizingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(NormalizingConnector(
            self.0.http_connector(settings, components),
        ))
    }
}

#[derive(Debug)]
struct NormalizingConnector(SharedHttpConnector);

/// The document's root element: the prolog before it, its name, and what follows the name.
fn split_root(xml: &str) -> Option<(&str, &str, &str)> {
    let body_start = if xml.starts_with("<?") {
        xml.find("?>")? + 2
    } else {
        0
    };
    let rest = xml[body_start..].trim_start();
    let prefix = &xml[..xml.len() - rest.len()];
    let after_lt = rest.strip_prefix('<')?;
    let name_len = after_lt.find(['>', ' ', '/', '\n', '\r', '\t'])?;
    Some((prefix, &after_lt[..name_len], &after_lt[name_len..]))
}

/// Renames a misnamed root element of an answer to SDK operation `op` to `s3` (opening and
/// closing tag); `None` when the root is already right or is not a known misnaming.
fn rename_root(xml: &str, s3: &str, op: &str) -> Option<String> {
    let (prefix, alias, after) = split_root(xml)?;
    if !is_alias(alias, s3, op) {
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

/// The `s3` element a wrapping root holds (`<CreateBucketConfiguration><LocationConstraint>…`
/// from SeaweedFS) as the document; `None` unless the root is another element whose first
/// child is `s3`.
pub fn unwrap_root(xml: &str, s3: &str) -> Option<String> {
    let (prefix, root, after) = split_root(xml)?;
    if root == s3 {
        return None;
    }
    let inner = after[after.find('>')? + 1..].trim_start();
    let tail = inner.strip_prefix('<')?.strip_prefix(s3)?;
    if !tail.starts_with(['>', ' ', '/', '\n', '\r', '\t']) {
        return None;
    }
    let close = format!("</{s3}>");
    let len = match inner.find(close.as_str()) {
        Some(pos) => pos + close.len(),
        // `<s3/>` or `<s3 xmlns="…"/>`
        None if inner[..inner.find('>')?].ends_with('/') => inner.find('>')? + 1,
        None => return None,
    };
    Some(format!("{prefix}{}", &inner[..len]))
}

/// ETags as S3 writes them, quoted: `<ETag></ETag>` (s3s-aws cannot convert an empty ETag) as
/// S3 spells an empty one, `""`, and an unquoted one (rclone's listings) in quotes, as s3s
/// writes every ETag the SDK path answers with; `None` when all are quoted already.
fn quote_etags(xml: &str) -> Option<String> {
    const OPEN: &str = "<ETag>";
    let is_quoted = |text: &str| {
        ["\"", "&quot;", "&#34;", "&#x22;", "&#X22;"]
            .iter()
            .any(|q| text.starts_with(q))
    };
    let mut out: Option<String> = None;
    let mut done = 0;
    let mut from = 0;
    while let Some(at) = xml[from..].find(OPEN) {
        let text_start = from + at + OPEN.len();
        let Some(len) = xml[text_start..].find("</ETag>") else {
            break;
        };
        let text = &xml[text_start..text_start + len];
        if !is_quoted(text) {
            let o = out.get_or_insert_with(|| String::with_capacity(xml.len() + 64));
            o.push_str(&xml[done..text_start]);
            o.push('"');
            o.push_str(text);
            o.push('"');
            done = text_start + len;
        }
        from = text_start + len;
    }
    let mut out = out?;
    out.push_str(&xml[done..]);
    Some(out)
}

/// A listing (ListObjects, ListObjectsV2: `op`, the SDK's name) an upstream sent, normalized as
/// the SDK path normalizes it before reading it (root, ETags, booleans): what a client gets
/// through the lean path, which passes the rest on as it came. `None` when it needs no change.
pub fn normalized_listing(xml: &str, op: &str) -> Option<String> {
    normalize_xml(xml, normalize_for(op)?)
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
fn normalize_last_modified(headers: &mut aws_smithy_runtime_api::http::Headers) {
    if let Some(date) = headers.get("last-modified").and_then(http_date) {
        headers.insert("last-modified", date);
    }
}

/// Headers S3 sends once that came repeated with one value (SeaweedFS sends
/// `x-amz-server-side-encryption-customer-key-MD5` twice on SSE-C reads) are kept once: the SDK
/// reads a repeated header as a list and fails the call for a single-valued member, and equal
/// copies say nothing more than one (any answer).
fn normalize_repeated_headers(headers: &mut aws_smithy_runtime_api::http::Headers) {
    let mut repeated: Vec<(String, String)> = Vec::new();
    for (name, value) in headers.iter() {
        if repeated.iter().any(|(n, _)| n == name) {
            continue;
        }
        let mut all = headers.get_all(name);
        let (Some(_), Some(_)) = (all.next(), all.next()) else {
            continue;
        };
        if headers.get_all(name).all(|v| v == value) {
            repeated.push((name.to_owned(), value.to_owned()));
        }
    }
    for (name, value) in repeated {
        headers.insert(name, value);
    }
}

/// The S3 elements of type boolean that appear in normalized answers.
const BOOLEANS: &[&str] = &[
    "IsPublic",
    "IsTruncated",
    "IsLatest",
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
    "BucketKeyEnabled",
];

/// Booleans spelled `TRUE`/`FALSE` (MinIO-based servers such as the JuiceFS gateway, in
/// `<IsPublic>`) as S3 and the SDK's parser spell them, `true`/`false`; only in the elements
/// of [`BOOLEANS`], so that a tag or key reading `TRUE` stays as it is. One pass over the
/// document (a listing of 1,000 keys is read for every page).
fn spell_booleans(xml: &str) -> Option<String> {
    const ODD: &[(&str, &str)] = &[
        ("TRUE", "true"),
        ("True", "true"),
        ("FALSE", "false"),
        ("False", "false"),
    ];
    // (where the odd spelling starts, its length, S3's spelling)
    let mut edits: Vec<(usize, usize, &str)> = Vec::new();
    for lead in [">T", ">F"] {
        for (at, _) in xml.match_indices(lead) {
            let text = at + 1;
            let Some((odd, s3)) = ODD.iter().find(|(odd, _)| xml[text..].starts_with(odd)) else {
                continue;
            };
            let close = &xml[text + odd.len()..];
            let open = &xml[..at];
            let is_boolean = BOOLEANS.iter().any(|name| {
                close
                    .strip_prefix("</")
                    .and_then(|c| c.strip_prefix(name))
                    .is_some_and(|c| c.starts_with('>'))
                    && open.strip_suffix(name).is_some_and(|o| o.ends_with('<'))
            });
            if is_boolean {
                edits.push((text, odd.len(), s3));
            }
        }
    }
    if edits.is_empty() {
        return None;
    }
    edits.sort_unstable();
    let mut out = String::with_capacity(xml.len());
    let mut done = 0;
    for (at, len, s3) in edits {
        out.push_str(&xml[done..at]);
        out.push_str(s3);
        done = at + len;
    }
    out.push_str(&xml[done..]);
    Some(out)
}

/// The normalized document, or `None` when it needs no normalizing.
fn normalize_xml(xml: &str, normalize: Normalize) -> Option<String> {
    let rooted =
        rename_root(xml, normalize.root, normalize.op).or_else(|| unwrap_root(xml, normalize.root));
    let quoted = quote_etags(rooted.as_deref().unwrap_or(xml)).or(rooted);
    spell_booleans(quoted.as_deref().unwrap_or(xml)).or(quoted)
}

/// The largest XML answer read whole to be normalized (a ListParts of 10,000 parts or a page
/// of 1,000 keys of 1,024 bytes is a few MiB); a larger one fails the call instead of growing
/// rebucket's memory without bound.
pub const MAX_NORMALIZED_BYTES: usize = 32 << 20;

impl HttpConnector for NormalizingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let normalize = request.extension::<Normalize>().copied();
        let fut = self.0.call(request);
        HttpConnectorFuture::new(async move {
            let mut resp = fut.await?;
            normalize_last_modified(resp.headers_mut());
            normalize_repeated_headers(resp.headers_mut());
            let Some(normalize) = normalize else {
                return Ok(resp);
            };
            if !resp.status().is_success() {
                return Ok(resp);
            }
            let bytes = http_body_util::Limited::new(resp.take_body(), MAX_NORMALIZED_BYTES)
                .collect()
                .await
                .map_err(|e| ConnectorError::io(format!("answer to normalize: {e}").into()))?
                .to_bytes();
            let normalized = std::str::from_utf8(&bytes)
                .ok()
                .and_then(|xml| normalize_xml(xml, normalize));
            let body = match normalized {
                Some(xml) => {
                    // Sized now, also where the upstream chunked (rclone, for larger listings).
                    resp.headers_mut().remove("transfer-encoding");
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
    use super::{
        Normalize, http_date, normalize_for, normalize_repeated_headers, normalize_xml,
        normalized_listing, rename_root, unwrap_root,
    };

    #[test]
    fn renames_only_a_misnamed_root_element() {
        let xml = "<?xml version=\"1.0\"?>\n<InitiateMultipartUpload xmlns=\"x\"><Bucket>b</Bucket></InitiateMultipartUpload>";
        assert_eq!(
            rename_root(
                xml,
                "InitiateMultipartUploadResult",
                "CreateMultipartUpload"
            )
            .as_deref(),
            Some(
                "<?xml version=\"1.0\"?>\n<InitiateMultipartUploadResult xmlns=\"x\"><Bucket>b</Bucket></InitiateMultipartUploadResult>"
            )
        );
        let s3 =
            "<InitiateMultipartUploadResult><Bucket>b</Bucket></InitiateMultipartUploadResult>";
        assert_eq!(
            rename_root(s3, "InitiateMultipartUploadResult", "CreateMultipartUpload"),
            None
        );
        let empty = "<GetBucketVersioningResponse xmlns=\"x\"/>";
        assert_eq!(
            rename_root(empty, "VersioningConfiguration", "GetBucketVersioning").as_deref(),
            Some("<VersioningConfiguration xmlns=\"x\"/>")
        );
        // A listing where a configuration was expected is not a misnaming: left alone.
        assert_eq!(
            rename_root(
                "<ListBucketResult></ListBucketResult>",
                "CORSConfiguration",
                "GetBucketCors"
            ),
            None
        );
        // SeaweedFS names the root after the operation.
        let normalize = normalize_for("ListBucketMetricsConfigurations").unwrap();
        assert_eq!(
            normalize_xml(
                "<ListBucketMetricsConfigurationsResult><IsTruncated>false</IsTruncated>\
                 </ListBucketMetricsConfigurationsResult>",
                normalize
            )
            .as_deref(),
            Some(
                "<ListMetricsConfigurationsResult><IsTruncated>false</IsTruncated>\
                 </ListMetricsConfigurationsResult>"
            )
        );
    }

    #[test]
    fn unwraps_the_s3_document_from_a_wrapping_root() {
        // SeaweedFS's GetBucketLocation answer.
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CreateBucketConfiguration><LocationConstraint></LocationConstraint></CreateBucketConfiguration>";
        assert_eq!(
            unwrap_root(xml, "LocationConstraint").as_deref(),
            Some(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint></LocationConstraint>"
            )
        );
        assert_eq!(
            unwrap_root(
                "<W><LocationConstraint xmlns=\"x\"/></W>",
                "LocationConstraint"
            )
            .as_deref(),
            Some("<LocationConstraint xmlns=\"x\"/>")
        );
        let s3 = "<LocationConstraint>eu-west-1</LocationConstraint>";
        assert_eq!(unwrap_root(s3, "LocationConstraint"), None);
        // Another first child, or a longer name with the same start: left alone.
        assert_eq!(
            unwrap_root("<W><Other/><LocationConstraint/></W>", "LocationConstraint"),
            None
        );
        assert_eq!(
            unwrap_root("<W><LocationConstraints/></W>", "LocationConstraint"),
            None
        );
    }

    #[test]
    fn quotes_unquoted_etags_as_s3s_writes_them() {
        let xml = "<ListBucketResult><Contents><ETag>abc</ETag></Contents><Contents><ETag>&quot;q&quot;</ETag></Contents><Contents><ETag>\"d\"</ETag></Contents><Contents><ETag>e-2</ETag></Contents></ListBucketResult>";
        assert_eq!(
            normalized_listing(xml, "ListObjectsV2").as_deref(),
            Some(
                "<ListBucketResult><Contents><ETag>\"abc\"</ETag></Contents><Contents><ETag>&quot;q&quot;</ETag></Contents><Contents><ETag>\"d\"</ETag></Contents><Contents><ETag>\"e-2\"</ETag></Contents></ListBucketResult>"
            )
        );
        let quoted = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><ETag>&#34;x&#34;</ETag></Contents></ListBucketResult>";
        assert_eq!(normalized_listing(quoted, "ListObjects"), None);
        // rclone's misnamed root and MinIO's booleans, as the SDK path reads them.
        assert_eq!(
            normalized_listing(
                "<ListBucket><IsTruncated>TRUE</IsTruncated></ListBucket>",
                "ListObjects"
            )
            .as_deref(),
            Some("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>")
        );
    }

    #[test]
    fn quotes_empty_etags_in_normalized_answers() {
        let normalize = normalize_for("ListObjectsV2").expect("listings are normalized");
        let xml = "<ListBucketResult><Contents><Key>k</Key><ETag></ETag></Contents><Contents><Key>j</Key><ETag>\"abc\"</ETag></Contents></ListBucketResult>";
        assert_eq!(
            normalize_xml(xml, normalize).as_deref(),
            Some(
                "<ListBucketResult><Contents><Key>k</Key><ETag>\"\"</ETag></Contents><Contents><Key>j</Key><ETag>\"abc\"</ETag></Contents></ListBucketResult>"
            )
        );
        // Both fixes at once; and nothing to normalize gives `None` (the bytes pass untouched).
        let normalize = Normalize {
            op: "ListParts",
            root: "ListPartsResult",
        };
        assert_eq!(
            normalize_xml(
                "<ListParts><Part><ETag></ETag></Part></ListParts>",
                normalize
            )
            .as_deref(),
            Some("<ListPartsResult><Part><ETag>\"\"</ETag></Part></ListPartsResult>")
        );
        assert_eq!(
            normalize_xml(
                "<ListPartsResult><Part><ETag>\"e\"</ETag></Part></ListPartsResult>",
                normalize
            ),
            None
        );
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

    #[test]
    fn a_header_repeated_with_one_value_is_kept_once() {
        let md5 = "x-amz-server-side-encryption-customer-key-md5";
        let mut h = aws_smithy_runtime_api::http::Headers::new();
        h.append(md5, "hRasmdxgYDKV3nvbahU1MA==");
        h.append(md5, "hRasmdxgYDKV3nvbahU1MA==");
        h.append("vary", "Origin");
        h.append("vary", "Accept-Encoding");
        h.append("etag", "\"e\"");
        normalize_repeated_headers(&mut h);
        assert_eq!(
            h.get_all(md5).collect::<Vec<_>>(),
            ["hRasmdxgYDKV3nvbahU1MA=="]
        );
        assert_eq!(
            h.get_all("vary").collect::<Vec<_>>(),
            ["Origin", "Accept-Encoding"],
            "different values are a list and stay"
        );
        assert_eq!(h.get("etag"), Some("\"e\""));
    }

    #[test]
    fn spells_booleans_as_s3_only_in_boolean_elements() {
        let normalize = normalize_for("GetBucketPolicyStatus").unwrap();
        let minio = "<PolicyStatus><IsPublic>FALSE</IsPublic></PolicyStatus>";
        assert_eq!(
            normalize_xml(minio, normalize).as_deref(),
            Some("<PolicyStatus><IsPublic>false</IsPublic></PolicyStatus>")
        );
        assert_eq!(
            normalize_xml(
                "<PolicyStatus><IsPublic>true</IsPublic></PolicyStatus>",
                normalize
            ),
            None
        );
        let tags = normalize_for("GetObjectTagging").unwrap();
        let doc = "<Tagging><TagSet><Tag><Key>k</Key><Value>TRUE</Value></Tag></TagSet></Tagging>";
        assert_eq!(normalize_xml(doc, tags), None, "a tag value is data");
        let listing = "<ListBucketResult><IsTruncated>True</IsTruncated><Contents><Key>TRUE</Key>\
                       </Contents></ListBucketResult>";
        assert_eq!(
            normalize_xml(listing, normalize_for("ListObjectsV2").unwrap()).as_deref(),
            Some(
                "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>TRUE</Key>\
                 </Contents></ListBucketResult>"
            )
        );
        // Several in one document, each where it is; a near miss left alone.
        let versions = "<ListVersionsResult><IsTruncated>FALSE</IsTruncated><Version><Key>False</Key>\
                        <IsLatest>True</IsLatest><IsLatest>TRUEly</IsLatest></Version><Version><IsLatest>False</IsLatest></Version>\
                        <DeleteMarker><IsLatest>TRUE</IsLatest></DeleteMarker></ListVersionsResult>";
        assert_eq!(
            normalize_xml(versions, normalize_for("ListObjectVersions").unwrap()).as_deref(),
            Some(
                "<ListVersionsResult><IsTruncated>false</IsTruncated><Version><Key>False</Key>\
                 <IsLatest>true</IsLatest><IsLatest>TRUEly</IsLatest></Version><Version><IsLatest>false</IsLatest></Version>\
                 <DeleteMarker><IsLatest>true</IsLatest></DeleteMarker></ListVersionsResult>"
            )
        );
    }

    #[test]
    fn applies_by_operation() {
        assert_eq!(
            normalize_for("CreateMultipartUpload").map(|m| m.root),
            Some("InitiateMultipartUploadResult")
        );
        assert_eq!(
            normalize_for("GetBucketLocation").map(|m| m.root),
            Some("LocationConstraint")
        );
        assert_eq!(normalize_for("GetObject"), None);
        assert_eq!(normalize_for("UploadPart"), None);
    }
}
