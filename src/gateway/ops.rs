//! The `S3` trait, operation by operation. Plain operations are generated: route the bucket,
//! forward through `s3s_aws::Proxy`, retry once in the right region on a redirect (`names`: the
//! output field that names the bucket; `shaped`: a fix of the input s3s parsed; `answered`: a
//! fix of the output before the client gets it). The few that
//! need more are delegated to their family's module.

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

use super::{ClientBucketName, Gateway, bucket, copy, put};

macro_rules! s3_impl {
    (
        forward { $($op:ident: $input:ident => $output:ident $(names $field:ident)? $(shaped $shape:path)? $(; answered $answer:path)?,)* }
        own { $($own:ident: $oinput:ident => $ooutput:ident = $path:path,)* }
    ) => {
        $(
            impl ClientBucketName for $output {
                $(
                    fn use_client_bucket_name(&mut self, name: &str) {
                        super::rename(&mut self.$field, name);
                    }
                )?
            }
        )*
        #[async_trait::async_trait]
        impl S3 for Gateway {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    #[allow(unused_mut)]
                    let mut input = req.input;
                    $($shape(&mut input);)?
                    let bucket = input.bucket.clone();
                    #[allow(unused_mut)]
                    let mut resp = self.call(
                        stringify!($op),
                        &bucket,
                        input,
                        |input, name| input.bucket = name,
                        |proxy, req| async move { proxy.$op(req).await },
                    )
                    .await?;
                    $($answer(&mut resp.output);)?
                    Ok(resp)
                }
            )*
            $(
                async fn $own(&self, req: S3Request<$oinput>) -> S3Result<S3Response<$ooutput>> {
                    $path(self, req).await
                }
            )*
        }
    };
}

s3_impl! {
    forward {
        abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput,
        create_bucket_metadata_table_configuration: CreateBucketMetadataTableConfigurationInput => CreateBucketMetadataTableConfigurationOutput,
        create_session: CreateSessionInput => CreateSessionOutput,
        delete_bucket_analytics_configuration: DeleteBucketAnalyticsConfigurationInput => DeleteBucketAnalyticsConfigurationOutput,
        delete_bucket_cors: DeleteBucketCorsInput => DeleteBucketCorsOutput,
        delete_bucket_encryption: DeleteBucketEncryptionInput => DeleteBucketEncryptionOutput,
        delete_bucket_intelligent_tiering_configuration: DeleteBucketIntelligentTieringConfigurationInput => DeleteBucketIntelligentTieringConfigurationOutput,
        delete_bucket_inventory_configuration: DeleteBucketInventoryConfigurationInput => DeleteBucketInventoryConfigurationOutput,
        delete_bucket_lifecycle: DeleteBucketLifecycleInput => DeleteBucketLifecycleOutput,
        delete_bucket_metadata_table_configuration: DeleteBucketMetadataTableConfigurationInput => DeleteBucketMetadataTableConfigurationOutput,
        delete_bucket_metrics_configuration: DeleteBucketMetricsConfigurationInput => DeleteBucketMetricsConfigurationOutput,
        delete_bucket_ownership_controls: DeleteBucketOwnershipControlsInput => DeleteBucketOwnershipControlsOutput,
        delete_bucket_policy: DeleteBucketPolicyInput => DeleteBucketPolicyOutput,
        delete_bucket_replication: DeleteBucketReplicationInput => DeleteBucketReplicationOutput,
        delete_bucket_tagging: DeleteBucketTaggingInput => DeleteBucketTaggingOutput,
        delete_bucket_website: DeleteBucketWebsiteInput => DeleteBucketWebsiteOutput,
        delete_object: DeleteObjectInput => DeleteObjectOutput,
        delete_object_tagging: DeleteObjectTaggingInput => DeleteObjectTaggingOutput,
        delete_objects: DeleteObjectsInput => DeleteObjectsOutput,
        delete_public_access_block: DeletePublicAccessBlockInput => DeletePublicAccessBlockOutput,
        get_bucket_accelerate_configuration: GetBucketAccelerateConfigurationInput => GetBucketAccelerateConfigurationOutput,
        get_bucket_acl: GetBucketAclInput => GetBucketAclOutput,
        get_bucket_analytics_configuration: GetBucketAnalyticsConfigurationInput => GetBucketAnalyticsConfigurationOutput,
        get_bucket_cors: GetBucketCorsInput => GetBucketCorsOutput,
        get_bucket_encryption: GetBucketEncryptionInput => GetBucketEncryptionOutput,
        get_bucket_intelligent_tiering_configuration: GetBucketIntelligentTieringConfigurationInput => GetBucketIntelligentTieringConfigurationOutput,
        get_bucket_inventory_configuration: GetBucketInventoryConfigurationInput => GetBucketInventoryConfigurationOutput,
        get_bucket_lifecycle_configuration: GetBucketLifecycleConfigurationInput => GetBucketLifecycleConfigurationOutput,
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput,
        get_bucket_logging: GetBucketLoggingInput => GetBucketLoggingOutput,
        get_bucket_metadata_table_configuration: GetBucketMetadataTableConfigurationInput => GetBucketMetadataTableConfigurationOutput,
        get_bucket_metrics_configuration: GetBucketMetricsConfigurationInput => GetBucketMetricsConfigurationOutput,
        get_bucket_notification_configuration: GetBucketNotificationConfigurationInput => GetBucketNotificationConfigurationOutput,
        get_bucket_ownership_controls: GetBucketOwnershipControlsInput => GetBucketOwnershipControlsOutput,
        get_bucket_policy: GetBucketPolicyInput => GetBucketPolicyOutput,
        get_bucket_policy_status: GetBucketPolicyStatusInput => GetBucketPolicyStatusOutput,
        get_bucket_replication: GetBucketReplicationInput => GetBucketReplicationOutput,
        get_bucket_request_payment: GetBucketRequestPaymentInput => GetBucketRequestPaymentOutput,
        get_bucket_tagging: GetBucketTaggingInput => GetBucketTaggingOutput,
        get_bucket_versioning: GetBucketVersioningInput => GetBucketVersioningOutput,
        get_bucket_website: GetBucketWebsiteInput => GetBucketWebsiteOutput,
        get_object: GetObjectInput => GetObjectOutput; answered put::stored_encoding_get,
        get_object_acl: GetObjectAclInput => GetObjectAclOutput,
        get_object_attributes: GetObjectAttributesInput => GetObjectAttributesOutput shaped split_object_attributes,
        get_object_legal_hold: GetObjectLegalHoldInput => GetObjectLegalHoldOutput,
        get_object_lock_configuration: GetObjectLockConfigurationInput => GetObjectLockConfigurationOutput,
        get_object_retention: GetObjectRetentionInput => GetObjectRetentionOutput,
        get_object_tagging: GetObjectTaggingInput => GetObjectTaggingOutput,
        get_object_torrent: GetObjectTorrentInput => GetObjectTorrentOutput,
        get_public_access_block: GetPublicAccessBlockInput => GetPublicAccessBlockOutput,
        head_bucket: HeadBucketInput => HeadBucketOutput,
        head_object: HeadObjectInput => HeadObjectOutput; answered put::stored_encoding_head,
        list_bucket_analytics_configurations: ListBucketAnalyticsConfigurationsInput => ListBucketAnalyticsConfigurationsOutput,
        list_bucket_intelligent_tiering_configurations: ListBucketIntelligentTieringConfigurationsInput => ListBucketIntelligentTieringConfigurationsOutput,
        list_bucket_inventory_configurations: ListBucketInventoryConfigurationsInput => ListBucketInventoryConfigurationsOutput,
        list_bucket_metrics_configurations: ListBucketMetricsConfigurationsInput => ListBucketMetricsConfigurationsOutput,
        list_multipart_uploads: ListMultipartUploadsInput => ListMultipartUploadsOutput names bucket,
        list_object_versions: ListObjectVersionsInput => ListObjectVersionsOutput names name,
        list_objects: ListObjectsInput => ListObjectsOutput names name,
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output names name,
        list_parts: ListPartsInput => ListPartsOutput names bucket,
        put_bucket_accelerate_configuration: PutBucketAccelerateConfigurationInput => PutBucketAccelerateConfigurationOutput,
        put_bucket_acl: PutBucketAclInput => PutBucketAclOutput,
        put_bucket_analytics_configuration: PutBucketAnalyticsConfigurationInput => PutBucketAnalyticsConfigurationOutput,
        put_bucket_cors: PutBucketCorsInput => PutBucketCorsOutput,
        put_bucket_encryption: PutBucketEncryptionInput => PutBucketEncryptionOutput,
        put_bucket_intelligent_tiering_configuration: PutBucketIntelligentTieringConfigurationInput => PutBucketIntelligentTieringConfigurationOutput,
        put_bucket_inventory_configuration: PutBucketInventoryConfigurationInput => PutBucketInventoryConfigurationOutput,
        put_bucket_lifecycle_configuration: PutBucketLifecycleConfigurationInput => PutBucketLifecycleConfigurationOutput,
        put_bucket_logging: PutBucketLoggingInput => PutBucketLoggingOutput,
        put_bucket_metrics_configuration: PutBucketMetricsConfigurationInput => PutBucketMetricsConfigurationOutput,
        put_bucket_notification_configuration: PutBucketNotificationConfigurationInput => PutBucketNotificationConfigurationOutput,
        put_bucket_ownership_controls: PutBucketOwnershipControlsInput => PutBucketOwnershipControlsOutput,
        put_bucket_policy: PutBucketPolicyInput => PutBucketPolicyOutput,
        put_bucket_replication: PutBucketReplicationInput => PutBucketReplicationOutput,
        put_bucket_request_payment: PutBucketRequestPaymentInput => PutBucketRequestPaymentOutput,
        put_bucket_tagging: PutBucketTaggingInput => PutBucketTaggingOutput,
        put_bucket_versioning: PutBucketVersioningInput => PutBucketVersioningOutput,
        put_bucket_website: PutBucketWebsiteInput => PutBucketWebsiteOutput,
        put_object_acl: PutObjectAclInput => PutObjectAclOutput,
        put_object_legal_hold: PutObjectLegalHoldInput => PutObjectLegalHoldOutput,
        put_object_lock_configuration: PutObjectLockConfigurationInput => PutObjectLockConfigurationOutput,
        put_object_retention: PutObjectRetentionInput => PutObjectRetentionOutput,
        put_object_tagging: PutObjectTaggingInput => PutObjectTaggingOutput,
        put_public_access_block: PutPublicAccessBlockInput => PutPublicAccessBlockOutput,
        restore_object: RestoreObjectInput => RestoreObjectOutput,
        select_object_content: SelectObjectContentInput => SelectObjectContentOutput,
    }
    own {
        put_object: PutObjectInput => PutObjectOutput = put::put_object,
        post_object: PostObjectInput => PostObjectOutput = put::post_object,
        upload_part: UploadPartInput => UploadPartOutput = put::upload_part,
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput = put::create_multipart_upload,
        complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput = put::complete_multipart_upload,
        copy_object: CopyObjectInput => CopyObjectOutput = copy::copy_object,
        upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput = copy::upload_part_copy,
        list_buckets: ListBucketsInput => ListBucketsOutput = bucket::list_buckets,
        create_bucket: CreateBucketInput => CreateBucketOutput = bucket::create_bucket,
        delete_bucket: DeleteBucketInput => DeleteBucketOutput = bucket::delete_bucket,
    }
}

/// S3 clients send the attributes as one comma-separated header (`x-amz-object-attributes:
/// ETag,ObjectSize`), which s3s keeps as one value (it splits only repeated header lines); the
/// SDK would send that value upstream quoted (`"ETag,ObjectSize"`), and servers refuse it as an
/// invalid attribute name. Splits it into the attributes the client named.
fn split_object_attributes(input: &mut GetObjectAttributesInput) {
    input.object_attributes = std::mem::take(&mut input.object_attributes)
        .iter()
        .flat_map(|a| a.as_str().split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| ObjectAttributes::from(s.to_owned()))
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_attributes_in_one_header_line_are_split() {
        let mut input = GetObjectAttributesInput {
            bucket: "b".into(),
            key: "k".into(),
            object_attributes: vec![
                ObjectAttributes::from("ETag, ObjectSize".to_owned()),
                ObjectAttributes::from("StorageClass".to_owned()),
            ],
            ..Default::default()
        };
        split_object_attributes(&mut input);
        let names: Vec<&str> = input.object_attributes.iter().map(|a| a.as_str()).collect();
        assert_eq!(names, ["ETag", "ObjectSize", "StorageClass"]);
    }
}
