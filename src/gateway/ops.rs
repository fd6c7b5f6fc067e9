//! Every S3 operation the gateway forwards, in one table: its input and output, whether its
//! input can be sent twice (`replayable`; `once` for inputs whose body streams), where its
//! input names an object key (`object FIELD`), where its
//! output names the bucket (`names FIELD`, or `renamed_by FN`) — the one place that rule
//! lives —, a fix of the input s3s parsed (`shaped`), a fix of the output before the client
//! gets it (`answered`), and, for operations with more to do, the function of their family's
//! module that does it (`own`). The others are forwarded as they are by [`Gateway::forward`].
//! Every operation runs inside its request's [`Unsigned`] mark.

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};
use s3s_aws::Proxy;

use super::forward::{Call, Operation};
use super::{Gateway, Unsigned, bucket, copy, get, put};

macro_rules! operations {
    (
        not_forwarded {
            $($nop:ident: $ninput:ident => $noutput:ident = $npath:path;)*
        }
        $(
            $op:ident: $input:ident => $output:ident, $replay:ident
            $(, object $keyfield:ident)?
            $(, names $field:ident)?
            $(, renamed_by $renamer:path)?
            $(, shaped $shape:path)?
            $(, answered $answer:path)?
            $(, own $own:path)?;
        )*
    ) => {
        /// The s3s method name of every operation the gateway implements.
        pub const OPERATIONS: &[&str] = &[$(stringify!($nop),)* $(stringify!($op),)*];

        $(
            impl Operation for $input {
                type Output = $output;
                const NAME: &'static str = stringify!($op);

                fn bucket_mut(&mut self) -> &mut String {
                    &mut self.bucket
                }

                replay!($replay);

                $(
                    fn key_mut(&mut self) -> Option<&mut String> {
                        Some(&mut self.$keyfield)
                    }
                )?

                fn send(proxy: &Proxy, req: S3Request<Self>) -> Call<'_, Self::Output> {
                    proxy.$op(req)
                }

                $(
                    fn name_client_bucket(output: &mut Self::Output, bucket: &str) {
                        if output.$field.is_some() {
                            output.$field = Some(bucket.to_owned());
                        }
                    }
                )?
                $(
                    fn name_client_bucket(output: &mut Self::Output, bucket: &str) {
                        $renamer(output, bucket);
                    }
                )?
            }
        )*

        #[async_trait::async_trait]
        impl S3 for Gateway {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    Unsigned::of(&req.extensions).scope(async move {
                        operation_body!(self, req $(, own $own)? ; $(shaped $shape)? ; $(answered $answer)?)
                    })
                    .await
                }
            )*
            $(
                async fn $nop(&self, req: S3Request<$ninput>) -> S3Result<S3Response<$noutput>> {
                    Unsigned::of(&req.extensions).scope($npath(self, req)).await
                }
            )*
        }
    };
}

/// Whether an input can be sent again after a wrong-region redirect.
macro_rules! replay {
    (replayable) => {
        fn replay(&self) -> Option<Self> {
            Some(self.clone())
        }
    };
    (once) => {
        fn replay(&self) -> Option<Self> {
            None
        }
    };
}

/// What an `S3` method does: its family's function, or forward (with its fixes).
macro_rules! operation_body {
    ($gw:ident, $req:ident, own $own:path ; ; ) => {
        $own($gw, $req).await
    };
    ($gw:ident, $req:ident ; $(shaped $shape:path)? ; $(answered $answer:path)?) => {{
        #[allow(unused_mut)]
        let mut input = $req.input;
        $($shape(&mut input);)?
        #[allow(unused_mut)]
        let mut resp = $gw.forward(input).await?;
        $($answer(&mut resp.output);)?
        Ok(resp)
    }};
}

operations! {
    not_forwarded {
        list_buckets: ListBucketsInput => ListBucketsOutput = bucket::list_buckets;
        post_object: PostObjectInput => PostObjectOutput = put::post_object;
    }
    abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput, replayable, object key;
    complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput, replayable, object key, names bucket, own put::complete_multipart_upload;
    copy_object: CopyObjectInput => CopyObjectOutput, replayable, object key, own copy::copy_object;
    create_bucket: CreateBucketInput => CreateBucketOutput, replayable, renamed_by bucket::created_location, own bucket::create_bucket;
    create_bucket_metadata_table_configuration: CreateBucketMetadataTableConfigurationInput => CreateBucketMetadataTableConfigurationOutput, replayable;
    create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput, replayable, object key, names bucket, own put::create_multipart_upload;
    create_session: CreateSessionInput => CreateSessionOutput, replayable;
    delete_bucket: DeleteBucketInput => DeleteBucketOutput, replayable, own bucket::delete_bucket;
    delete_bucket_analytics_configuration: DeleteBucketAnalyticsConfigurationInput => DeleteBucketAnalyticsConfigurationOutput, replayable;
    delete_bucket_cors: DeleteBucketCorsInput => DeleteBucketCorsOutput, replayable;
    delete_bucket_encryption: DeleteBucketEncryptionInput => DeleteBucketEncryptionOutput, replayable;
    delete_bucket_intelligent_tiering_configuration: DeleteBucketIntelligentTieringConfigurationInput => DeleteBucketIntelligentTieringConfigurationOutput, replayable;
    delete_bucket_inventory_configuration: DeleteBucketInventoryConfigurationInput => DeleteBucketInventoryConfigurationOutput, replayable;
    delete_bucket_lifecycle: DeleteBucketLifecycleInput => DeleteBucketLifecycleOutput, replayable;
    delete_bucket_metadata_table_configuration: DeleteBucketMetadataTableConfigurationInput => DeleteBucketMetadataTableConfigurationOutput, replayable;
    delete_bucket_metrics_configuration: DeleteBucketMetricsConfigurationInput => DeleteBucketMetricsConfigurationOutput, replayable;
    delete_bucket_ownership_controls: DeleteBucketOwnershipControlsInput => DeleteBucketOwnershipControlsOutput, replayable;
    delete_bucket_policy: DeleteBucketPolicyInput => DeleteBucketPolicyOutput, replayable;
    delete_bucket_replication: DeleteBucketReplicationInput => DeleteBucketReplicationOutput, replayable;
    delete_bucket_tagging: DeleteBucketTaggingInput => DeleteBucketTaggingOutput, replayable;
    delete_bucket_website: DeleteBucketWebsiteInput => DeleteBucketWebsiteOutput, replayable;
    delete_object: DeleteObjectInput => DeleteObjectOutput, replayable, object key;
    delete_object_tagging: DeleteObjectTaggingInput => DeleteObjectTaggingOutput, replayable, object key;
    delete_objects: DeleteObjectsInput => DeleteObjectsOutput, replayable;
    delete_public_access_block: DeletePublicAccessBlockInput => DeletePublicAccessBlockOutput, replayable;
    get_bucket_accelerate_configuration: GetBucketAccelerateConfigurationInput => GetBucketAccelerateConfigurationOutput, replayable;
    get_bucket_acl: GetBucketAclInput => GetBucketAclOutput, replayable;
    get_bucket_analytics_configuration: GetBucketAnalyticsConfigurationInput => GetBucketAnalyticsConfigurationOutput, replayable;
    get_bucket_cors: GetBucketCorsInput => GetBucketCorsOutput, replayable;
    get_bucket_encryption: GetBucketEncryptionInput => GetBucketEncryptionOutput, replayable;
    get_bucket_intelligent_tiering_configuration: GetBucketIntelligentTieringConfigurationInput => GetBucketIntelligentTieringConfigurationOutput, replayable;
    get_bucket_inventory_configuration: GetBucketInventoryConfigurationInput => GetBucketInventoryConfigurationOutput, replayable;
    get_bucket_lifecycle_configuration: GetBucketLifecycleConfigurationInput => GetBucketLifecycleConfigurationOutput, replayable;
    get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput, replayable;
    get_bucket_logging: GetBucketLoggingInput => GetBucketLoggingOutput, replayable;
    get_bucket_metadata_table_configuration: GetBucketMetadataTableConfigurationInput => GetBucketMetadataTableConfigurationOutput, replayable;
    get_bucket_metrics_configuration: GetBucketMetricsConfigurationInput => GetBucketMetricsConfigurationOutput, replayable;
    get_bucket_notification_configuration: GetBucketNotificationConfigurationInput => GetBucketNotificationConfigurationOutput, replayable;
    get_bucket_ownership_controls: GetBucketOwnershipControlsInput => GetBucketOwnershipControlsOutput, replayable;
    get_bucket_policy: GetBucketPolicyInput => GetBucketPolicyOutput, replayable;
    get_bucket_policy_status: GetBucketPolicyStatusInput => GetBucketPolicyStatusOutput, replayable;
    get_bucket_replication: GetBucketReplicationInput => GetBucketReplicationOutput, replayable;
    get_bucket_request_payment: GetBucketRequestPaymentInput => GetBucketRequestPaymentOutput, replayable;
    get_bucket_tagging: GetBucketTaggingInput => GetBucketTaggingOutput, replayable;
    get_bucket_versioning: GetBucketVersioningInput => GetBucketVersioningOutput, replayable;
    get_bucket_website: GetBucketWebsiteInput => GetBucketWebsiteOutput, replayable;
    get_object: GetObjectInput => GetObjectOutput, replayable, object key, answered get::stored_encoding_get;
    get_object_acl: GetObjectAclInput => GetObjectAclOutput, replayable, object key;
    get_object_attributes: GetObjectAttributesInput => GetObjectAttributesOutput, replayable, object key, shaped get::split_object_attributes;
    get_object_legal_hold: GetObjectLegalHoldInput => GetObjectLegalHoldOutput, replayable, object key;
    get_object_lock_configuration: GetObjectLockConfigurationInput => GetObjectLockConfigurationOutput, replayable;
    get_object_retention: GetObjectRetentionInput => GetObjectRetentionOutput, replayable, object key;
    get_object_tagging: GetObjectTaggingInput => GetObjectTaggingOutput, replayable, object key;
    get_object_torrent: GetObjectTorrentInput => GetObjectTorrentOutput, replayable, object key;
    get_public_access_block: GetPublicAccessBlockInput => GetPublicAccessBlockOutput, replayable;
    head_bucket: HeadBucketInput => HeadBucketOutput, replayable;
    head_object: HeadObjectInput => HeadObjectOutput, replayable, object key, answered get::stored_encoding_head;
    list_bucket_analytics_configurations: ListBucketAnalyticsConfigurationsInput => ListBucketAnalyticsConfigurationsOutput, replayable;
    list_bucket_intelligent_tiering_configurations: ListBucketIntelligentTieringConfigurationsInput => ListBucketIntelligentTieringConfigurationsOutput, replayable;
    list_bucket_inventory_configurations: ListBucketInventoryConfigurationsInput => ListBucketInventoryConfigurationsOutput, replayable;
    list_bucket_metrics_configurations: ListBucketMetricsConfigurationsInput => ListBucketMetricsConfigurationsOutput, replayable;
    list_multipart_uploads: ListMultipartUploadsInput => ListMultipartUploadsOutput, replayable, names bucket;
    list_object_versions: ListObjectVersionsInput => ListObjectVersionsOutput, replayable, names name;
    list_objects: ListObjectsInput => ListObjectsOutput, replayable, names name;
    list_objects_v2: ListObjectsV2Input => ListObjectsV2Output, replayable, names name;
    list_parts: ListPartsInput => ListPartsOutput, replayable, object key, names bucket;
    put_bucket_accelerate_configuration: PutBucketAccelerateConfigurationInput => PutBucketAccelerateConfigurationOutput, replayable;
    put_bucket_acl: PutBucketAclInput => PutBucketAclOutput, replayable;
    put_bucket_analytics_configuration: PutBucketAnalyticsConfigurationInput => PutBucketAnalyticsConfigurationOutput, replayable;
    put_bucket_cors: PutBucketCorsInput => PutBucketCorsOutput, replayable;
    put_bucket_encryption: PutBucketEncryptionInput => PutBucketEncryptionOutput, replayable;
    put_bucket_intelligent_tiering_configuration: PutBucketIntelligentTieringConfigurationInput => PutBucketIntelligentTieringConfigurationOutput, replayable;
    put_bucket_inventory_configuration: PutBucketInventoryConfigurationInput => PutBucketInventoryConfigurationOutput, replayable;
    put_bucket_lifecycle_configuration: PutBucketLifecycleConfigurationInput => PutBucketLifecycleConfigurationOutput, replayable;
    put_bucket_logging: PutBucketLoggingInput => PutBucketLoggingOutput, replayable;
    put_bucket_metrics_configuration: PutBucketMetricsConfigurationInput => PutBucketMetricsConfigurationOutput, replayable;
    put_bucket_notification_configuration: PutBucketNotificationConfigurationInput => PutBucketNotificationConfigurationOutput, replayable;
    put_bucket_ownership_controls: PutBucketOwnershipControlsInput => PutBucketOwnershipControlsOutput, replayable;
    put_bucket_policy: PutBucketPolicyInput => PutBucketPolicyOutput, replayable;
    put_bucket_replication: PutBucketReplicationInput => PutBucketReplicationOutput, replayable;
    put_bucket_request_payment: PutBucketRequestPaymentInput => PutBucketRequestPaymentOutput, replayable;
    put_bucket_tagging: PutBucketTaggingInput => PutBucketTaggingOutput, replayable;
    put_bucket_versioning: PutBucketVersioningInput => PutBucketVersioningOutput, replayable;
    put_bucket_website: PutBucketWebsiteInput => PutBucketWebsiteOutput, replayable;
    put_object: PutObjectInput => PutObjectOutput, once, object key, own put::put_object;
    put_object_acl: PutObjectAclInput => PutObjectAclOutput, replayable, object key;
    put_object_legal_hold: PutObjectLegalHoldInput => PutObjectLegalHoldOutput, replayable, object key;
    put_object_lock_configuration: PutObjectLockConfigurationInput => PutObjectLockConfigurationOutput, replayable;
    put_object_retention: PutObjectRetentionInput => PutObjectRetentionOutput, replayable, object key;
    put_object_tagging: PutObjectTaggingInput => PutObjectTaggingOutput, replayable, object key;
    put_public_access_block: PutPublicAccessBlockInput => PutPublicAccessBlockOutput, replayable;
    restore_object: RestoreObjectInput => RestoreObjectOutput, replayable, object key;
    select_object_content: SelectObjectContentInput => SelectObjectContentOutput, replayable, object key;
    upload_part: UploadPartInput => UploadPartOutput, once, object key, own put::upload_part;
    upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput, replayable, object key, own copy::upload_part_copy;
}
