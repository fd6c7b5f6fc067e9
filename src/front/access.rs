//! Which permission each S3 operation needs, in one table, and the front's access check that
//! applies it: s3s runs [`S3Access::check`] for every request once it knows the operation
//! (signed or not) and before it reads the operation's input, so a caller without the
//! permission is refused `403 AccessDenied` whatever else is wrong with the request, as S3
//! answers. The bucket is the request path's, a copy's source bucket its `x-amz-copy-source`.
//!
//! The permissions are [`Permission`]s: `read` (GET, HEAD, List*, Get*), `write` (objects:
//! PUT, POST, Delete*, multipart uploads, the target of a copy, an object's tags, ACL,
//! retention and legal hold) and `admin` (the bucket itself: Create/DeleteBucket and the
//! Put*/Delete* of its subresources). A copy also needs `read` on its source bucket.
//!
//! Unsigned callers get what [`AnonymousAccess`] gives them: everything with `allow_anonymous`,
//! else what the bucket's `anonymous` property opens.

use s3s::S3Result;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::Credentials;
use s3s::dto::*;

use std::sync::Arc;

use super::anonymous::AnonymousAccess;
use super::callers::Callers;
use super::error::FrontError;
use super::verdict::Verdict;
use crate::registry::{CallerGrants, Permission};

/// The front's access check (see the module doc). It records the operation for the log line
/// and the metrics, lets unsigned requests through only when the operator opted in
/// (`allow_anonymous`, or the bucket's `anonymous` property; else `403 AccessDenied` as s3s's
/// default check answers), records the decision on the request's [`Verdict`], and then checks
/// the operation's permission.
pub struct FrontAccess {
    pub anonymous: AnonymousAccess,
    /// The users and their grants.
    pub callers: Arc<Callers>,
}

impl FrontAccess {
    /// Whether `caller` may do what needs `needed` in `bucket` (`None`: an operation that
    /// names no bucket).
    ///
    /// The operator's users hold `admin` on every bucket, registry users what their grants
    /// say; an anonymous caller gets what [`AnonymousAccess::allow`] gives (which marks in
    /// `extensions` the buckets whose upstream requests go unsigned). A `read_only` bucket
    /// refuses changes to all (see [`Callers::allow`]).
    fn allow(
        &self,
        caller: Option<&Credentials>,
        bucket: Option<&str>,
        needed: Permission,
        extensions: &mut http::Extensions,
    ) -> S3Result<()> {
        if caller.is_none() {
            self.anonymous.allow(bucket, needed, extensions)?;
        }
        Ok(self.callers.allow(caller, bucket, needed)?)
    }

    /// For an operation that names no bucket: a registry user's grants, attached to the
    /// request for the gateway (ListBuckets shows only the buckets they hold a grant on).
    fn attach_grants(&self, caller: Option<&Credentials>, extensions: &mut http::Extensions) {
        if let Some(grants) = self.callers.grants(caller) {
            extensions.insert(CallerGrants(grants));
        }
    }
}

/// The bucket a request's path names (`None`: the root, ListBuckets).
fn path_bucket(path: &s3s::path::S3Path) -> Option<&str> {
    use s3s::path::S3Path;
    match path {
        S3Path::Root => None,
        S3Path::Bucket { bucket } | S3Path::Object { bucket, .. } => Some(bucket),
    }
}

/// The source bucket of a copy (`x-amz-copy-source`); `None` for an access point or outpost
/// ARN, which rebucket does not route (the gateway refuses them), or a header s3s refuses when
/// it reads the input.
fn source_bucket(headers: &http::HeaderMap) -> Option<String> {
    let header = headers.get("x-amz-copy-source")?.to_str().ok()?;
    match CopySource::parse(header).ok()? {
        CopySource::Bucket { bucket, .. } => Some(bucket.into()),
        CopySource::AccessPoint { .. } | CopySource::Outpost { .. } => None,
    }
}

/// What else than its permission on the request's bucket an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Its permission on the bucket of its path.
    Bucket,
    /// Also `read` on its copy source's bucket.
    Source,
    /// It names no bucket.
    NoBucket,
}

/// The permission and scope of the operation s3s names `name` (`GetObject`).
fn needs(name: &str) -> Option<(Permission, Scope)> {
    static BY_NAME: std::sync::LazyLock<std::collections::HashMap<String, (Permission, Scope)>> =
        std::sync::LazyLock::new(|| {
            PERMISSIONS
                .iter()
                .map(|(op, p, scope)| (camel_case(op), (*p, *scope)))
                .collect()
        });
    BY_NAME.get(name).copied()
}

/// `get_object` as s3s names the operation: `GetObject`.
fn camel_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[async_trait::async_trait]
impl S3Access for FrontAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let name = cx.s3_op().name();
        crate::metrics::request::set_operation_named(name);
        let needs = needs(name);
        let caller = cx.credentials().cloned();
        let bucket = path_bucket(cx.s3_path()).map(str::to_owned);
        if caller.is_none() && !self.anonymous.lets_in(bucket.as_deref()) {
            return Err(FrontError::SignatureRequired.into());
        }
        Verdict::admit(cx.extensions_mut(), caller.is_some());
        // An operation the table does not know (none: see the tests) needs the most.
        let (needed, scope) = needs.unwrap_or((Permission::Admin, Scope::Bucket));
        let caller = caller.as_ref();
        match scope {
            Scope::NoBucket => {
                self.allow(caller, None, needed, cx.extensions_mut())?;
                self.attach_grants(caller, cx.extensions_mut());
                Ok(())
            }
            Scope::Source => {
                if let Some(source) = source_bucket(cx.headers()) {
                    self.allow(caller, Some(&source), Permission::Read, cx.extensions_mut())?;
                }
                self.allow(caller, bucket.as_deref(), needed, cx.extensions_mut())
            }
            Scope::Bucket => self.allow(caller, bucket.as_deref(), needed, cx.extensions_mut()),
        }
    }
}

/// The table: `operation: Input => Permission` with `source` for the copies (which also need
/// `read` on the source bucket) and `no_bucket` for the operations that name none.
macro_rules! permissions {
    ($($op:ident: $input:ident => $perm:ident $(, $flag:ident)?;)*) => {
        /// Every s3s operation (by s3s method name) with the permission it needs and its scope.
        pub const PERMISSIONS: &[(&str, Permission, Scope)] =
            &[$((stringify!($op), Permission::$perm, permissions!(@scope $($flag)?)),)*];
    };
    (@scope) => { Scope::Bucket };
    (@scope source) => { Scope::Source };
    (@scope no_bucket) => { Scope::NoBucket };
}

permissions! {
    abort_multipart_upload: AbortMultipartUploadInput => Write;
    complete_multipart_upload: CompleteMultipartUploadInput => Write;
    copy_object: CopyObjectInput => Write, source;
    create_bucket: CreateBucketInput => Admin;
    create_bucket_metadata_table_configuration: CreateBucketMetadataTableConfigurationInput => Admin;
    create_multipart_upload: CreateMultipartUploadInput => Write;
    create_session: CreateSessionInput => Read;
    delete_bucket: DeleteBucketInput => Admin;
    delete_bucket_analytics_configuration: DeleteBucketAnalyticsConfigurationInput => Admin;
    delete_bucket_cors: DeleteBucketCorsInput => Admin;
    delete_bucket_encryption: DeleteBucketEncryptionInput => Admin;
    delete_bucket_intelligent_tiering_configuration: DeleteBucketIntelligentTieringConfigurationInput => Admin;
    delete_bucket_inventory_configuration: DeleteBucketInventoryConfigurationInput => Admin;
    delete_bucket_lifecycle: DeleteBucketLifecycleInput => Admin;
    delete_bucket_metadata_table_configuration: DeleteBucketMetadataTableConfigurationInput => Admin;
    delete_bucket_metrics_configuration: DeleteBucketMetricsConfigurationInput => Admin;
    delete_bucket_ownership_controls: DeleteBucketOwnershipControlsInput => Admin;
    delete_bucket_policy: DeleteBucketPolicyInput => Admin;
    delete_bucket_replication: DeleteBucketReplicationInput => Admin;
    delete_bucket_tagging: DeleteBucketTaggingInput => Admin;
    delete_bucket_website: DeleteBucketWebsiteInput => Admin;
    delete_object: DeleteObjectInput => Write;
    delete_object_tagging: DeleteObjectTaggingInput => Write;
    delete_objects: DeleteObjectsInput => Write;
    delete_public_access_block: DeletePublicAccessBlockInput => Admin;
    get_bucket_accelerate_configuration: GetBucketAccelerateConfigurationInput => Read;
    get_bucket_acl: GetBucketAclInput => Read;
    get_bucket_analytics_configuration: GetBucketAnalyticsConfigurationInput => Read;
    get_bucket_cors: GetBucketCorsInput => Read;
    get_bucket_encryption: GetBucketEncryptionInput => Read;
    get_bucket_intelligent_tiering_configuration: GetBucketIntelligentTieringConfigurationInput => Read;
    get_bucket_inventory_configuration: GetBucketInventoryConfigurationInput => Read;
    get_bucket_lifecycle_configuration: GetBucketLifecycleConfigurationInput => Read;
    get_bucket_location: GetBucketLocationInput => Read;
    get_bucket_logging: GetBucketLoggingInput => Read;
    get_bucket_metadata_table_configuration: GetBucketMetadataTableConfigurationInput => Read;
    get_bucket_metrics_configuration: GetBucketMetricsConfigurationInput => Read;
    get_bucket_notification_configuration: GetBucketNotificationConfigurationInput => Read;
    get_bucket_ownership_controls: GetBucketOwnershipControlsInput => Read;
    get_bucket_policy: GetBucketPolicyInput => Read;
    get_bucket_policy_status: GetBucketPolicyStatusInput => Read;
    get_bucket_replication: GetBucketReplicationInput => Read;
    get_bucket_request_payment: GetBucketRequestPaymentInput => Read;
    get_bucket_tagging: GetBucketTaggingInput => Read;
    get_bucket_versioning: GetBucketVersioningInput => Read;
    get_bucket_website: GetBucketWebsiteInput => Read;
    get_object: GetObjectInput => Read;
    get_object_acl: GetObjectAclInput => Read;
    get_object_attributes: GetObjectAttributesInput => Read;
    get_object_legal_hold: GetObjectLegalHoldInput => Read;
    get_object_lock_configuration: GetObjectLockConfigurationInput => Read;
    get_object_retention: GetObjectRetentionInput => Read;
    get_object_tagging: GetObjectTaggingInput => Read;
    get_object_torrent: GetObjectTorrentInput => Read;
    get_public_access_block: GetPublicAccessBlockInput => Read;
    head_bucket: HeadBucketInput => Read;
    head_object: HeadObjectInput => Read;
    list_bucket_analytics_configurations: ListBucketAnalyticsConfigurationsInput => Read;
    list_bucket_intelligent_tiering_configurations: ListBucketIntelligentTieringConfigurationsInput => Read;
    list_bucket_inventory_configurations: ListBucketInventoryConfigurationsInput => Read;
    list_bucket_metrics_configurations: ListBucketMetricsConfigurationsInput => Read;
    list_buckets: ListBucketsInput => Read, no_bucket;
    list_directory_buckets: ListDirectoryBucketsInput => Read, no_bucket;
    list_multipart_uploads: ListMultipartUploadsInput => Read;
    list_object_versions: ListObjectVersionsInput => Read;
    list_objects: ListObjectsInput => Read;
    list_objects_v2: ListObjectsV2Input => Read;
    list_parts: ListPartsInput => Read;
    post_object: PostObjectInput => Write;
    put_bucket_accelerate_configuration: PutBucketAccelerateConfigurationInput => Admin;
    put_bucket_acl: PutBucketAclInput => Admin;
    put_bucket_analytics_configuration: PutBucketAnalyticsConfigurationInput => Admin;
    put_bucket_cors: PutBucketCorsInput => Admin;
    put_bucket_encryption: PutBucketEncryptionInput => Admin;
    put_bucket_intelligent_tiering_configuration: PutBucketIntelligentTieringConfigurationInput => Admin;
    put_bucket_inventory_configuration: PutBucketInventoryConfigurationInput => Admin;
    put_bucket_lifecycle_configuration: PutBucketLifecycleConfigurationInput => Admin;
    put_bucket_logging: PutBucketLoggingInput => Admin;
    put_bucket_metrics_configuration: PutBucketMetricsConfigurationInput => Admin;
    put_bucket_notification_configuration: PutBucketNotificationConfigurationInput => Admin;
    put_bucket_ownership_controls: PutBucketOwnershipControlsInput => Admin;
    put_bucket_policy: PutBucketPolicyInput => Admin;
    put_bucket_replication: PutBucketReplicationInput => Admin;
    put_bucket_request_payment: PutBucketRequestPaymentInput => Admin;
    put_bucket_tagging: PutBucketTaggingInput => Admin;
    put_bucket_versioning: PutBucketVersioningInput => Admin;
    put_bucket_website: PutBucketWebsiteInput => Admin;
    put_object: PutObjectInput => Write;
    put_object_acl: PutObjectAclInput => Write;
    put_object_legal_hold: PutObjectLegalHoldInput => Write;
    put_object_lock_configuration: PutObjectLockConfigurationInput => Admin;
    put_object_retention: PutObjectRetentionInput => Write;
    put_object_tagging: PutObjectTaggingInput => Write;
    put_public_access_block: PutPublicAccessBlockInput => Admin;
    restore_object: RestoreObjectInput => Write;
    select_object_content: SelectObjectContentInput => Read;
    upload_part: UploadPartInput => Write;
    upload_part_copy: UploadPartCopyInput => Write, source;
    write_get_object_response: WriteGetObjectResponseInput => Admin, no_bucket;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs_of(op: &str) -> Permission {
        PERMISSIONS
            .iter()
            .find(|(name, _, _)| *name == op)
            .map(|(_, p, _)| *p)
            .unwrap_or_else(|| panic!("{op} is not in the table"))
    }

    #[test]
    fn every_s3s_operation_needs_exactly_one_permission() {
        // s3s 0.14 has 99 operations (the methods of its `S3Access` and `S3` traits).
        assert_eq!(PERMISSIONS.len(), 99);
        let mut names: Vec<&str> = PERMISSIONS.iter().map(|(n, _, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            PERMISSIONS.len(),
            "an operation is listed twice"
        );
        for op in crate::gateway::OPERATIONS {
            assert!(names.contains(op), "{op} has no permission");
        }
    }

    #[test]
    fn operations_are_found_by_the_names_s3s_gives_them() {
        for (name, op) in [
            ("GetObject", "get_object"),
            ("ListObjectsV2", "list_objects_v2"),
            ("PutBucketCors", "put_bucket_cors"),
            ("UploadPartCopy", "upload_part_copy"),
            ("ListBuckets", "list_buckets"),
        ] {
            assert_eq!(
                super::needs(name).map(|(p, _)| p),
                Some(needs_of(op)),
                "{name}"
            );
        }
        assert_eq!(
            super::needs("UploadPartCopy").map(|(_, s)| s),
            Some(Scope::Source)
        );
        assert_eq!(
            super::needs("ListBuckets").map(|(_, s)| s),
            Some(Scope::NoBucket)
        );
        assert_eq!(super::needs("get_object"), None);
    }

    #[test]
    fn reads_writes_and_bucket_changes_need_their_own_permission() {
        for op in [
            "get_object",
            "head_object",
            "list_objects_v2",
            "get_bucket_policy",
        ] {
            assert_eq!(needs_of(op), Permission::Read, "{op}");
        }
        for op in ["put_object", "delete_objects", "upload_part", "copy_object"] {
            assert_eq!(needs_of(op), Permission::Write, "{op}");
        }
        for op in [
            "create_bucket",
            "delete_bucket",
            "put_bucket_cors",
            "put_object_lock_configuration",
        ] {
            assert_eq!(needs_of(op), Permission::Admin, "{op}");
        }
    }

    #[test]
    fn only_writes_and_bucket_changes_count_as_changes() {
        for (op, p, _) in PERMISSIONS {
            let named_as_reader = ["get_", "head_", "list_", "select_", "create_session"]
                .iter()
                .any(|prefix| op.starts_with(prefix));
            assert_eq!(!p.changes(), named_as_reader, "{op}");
        }
    }
}
