//! Copies: CopyObject and UploadPartCopy. The source bucket is routed like the destination.
//! When both live on the same upstream (same client key) the copy is forwarded and happens
//! upstream; otherwise it streams through rebucket: GET from the source's upstream, PUT (or
//! UploadPart) to the destination's, never holding more than a few chunks in memory.

use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::{Gateway, forward, upstream_request};
use crate::upstream::route::Route;

/// The source of a copy, routed.
struct Source {
    route: Route,
    key: String,
    version_id: Option<String>,
}

fn route_source(gw: &Gateway, copy_source: &CopySource) -> S3Result<Source> {
    match copy_source {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => Ok(Source {
            route: gw.route(bucket)?,
            key: key.to_string(),
            version_id: version_id.as_deref().map(str::to_owned),
        }),
        _ => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "copy sources given as access point or outpost ARNs are not supported",
        )),
    }
}

/// The copy source as the source's upstream names it.
fn upstream_copy_source(src: &Source) -> CopySource {
    CopySource::Bucket {
        bucket: src.route.backend.clone().into(),
        key: src.key.clone().into(),
        version_id: src.version_id.clone().map(Into::into),
    }
}

/// The GET of a copy that streams through: the copy's source conditions become the GET's.
struct SourceRead {
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
    if_modified_since: Option<Timestamp>,
    if_unmodified_since: Option<Timestamp>,
    sse_customer_algorithm: Option<String>,
    sse_customer_key: Option<String>,
    sse_customer_key_md5: Option<String>,
    range: Option<Range>,
}

async fn read_source(
    gw: &Gateway,
    src: &Source,
    read: SourceRead,
    op: &'static str,
) -> S3Result<GetObjectOutput> {
    let input = GetObjectInput {
        bucket: src.route.backend.clone(),
        key: src.key.clone(),
        version_id: src.version_id.clone(),
        if_match: read.if_match,
        if_none_match: read.if_none_match,
        if_modified_since: read.if_modified_since,
        if_unmodified_since: read.if_unmodified_since,
        sse_customer_algorithm: read.sse_customer_algorithm,
        sse_customer_key: read.sse_customer_key,
        sse_customer_key_md5: read.sse_customer_key_md5,
        range: read.range,
        ..Default::default()
    };
    match forward(
        &src.route,
        op,
        gw.proxy(&src.route).get_object(upstream_request(input)),
    )
    .await
    {
        Ok(resp) => Ok(resp.output),
        // A copy whose source conditions fail answers 412, whichever condition it was.
        Err(e)
            if *e.code() == S3ErrorCode::NotModified
                || e.status_code() == Some(http::StatusCode::NOT_MODIFIED) =>
        {
            let mut err = S3Error::with_message(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            );
            err.set_status_code(http::StatusCode::PRECONDITION_FAILED);
            Err(err)
        }
        Err(e) => Err(e),
    }
}

pub async fn copy_object(
    gw: &Gateway,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let mut input = req.input;
    let src = route_source(gw, &input.copy_source)?;
    let dst = gw.route(&input.bucket)?;
    if src.route.key == dst.key {
        input.copy_source = upstream_copy_source(&src);
        input.bucket = dst.backend.clone();
        return forward(
            &dst,
            "copy_object",
            gw.proxy(&dst).copy_object(upstream_request(input)),
        )
        .await;
    }
    let read = SourceRead {
        if_match: input.copy_source_if_match.take(),
        if_none_match: input.copy_source_if_none_match.take(),
        if_modified_since: input.copy_source_if_modified_since.take(),
        if_unmodified_since: input.copy_source_if_unmodified_since.take(),
        sse_customer_algorithm: input.copy_source_sse_customer_algorithm.take(),
        sse_customer_key: input.copy_source_sse_customer_key.take(),
        sse_customer_key_md5: input.copy_source_sse_customer_key_md5.take(),
        range: None,
    };
    let got = read_source(gw, &src, read, "copy_object").await?;
    let replace = input
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
    let (
        metadata,
        content_type,
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        expires,
    ) = if replace {
        (
            input.metadata,
            input.content_type,
            input.content_encoding,
            input.content_disposition,
            input.content_language,
            input.cache_control,
            input.expires,
        )
    } else {
        (
            got.metadata,
            got.content_type,
            got.content_encoding,
            got.content_disposition,
            got.content_language,
            got.cache_control,
            got.expires,
        )
    };
    let put = PutObjectInput {
        bucket: dst.backend.clone(),
        key: input.key,
        body: got.body,
        content_length: got.content_length,
        metadata,
        content_type,
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        expires,
        acl: input.acl,
        storage_class: input.storage_class,
        tagging: input.tagging,
        checksum_algorithm: input.checksum_algorithm,
        server_side_encryption: input.server_side_encryption,
        ssekms_key_id: input.ssekms_key_id,
        sse_customer_algorithm: input.sse_customer_algorithm,
        sse_customer_key: input.sse_customer_key,
        sse_customer_key_md5: input.sse_customer_key_md5,
        website_redirect_location: input
            .website_redirect_location
            .or(got.website_redirect_location),
        ..Default::default()
    };
    let put = forward(
        &dst,
        "copy_object",
        gw.proxy(&dst).put_object(upstream_request(put)),
    )
    .await?
    .output;
    let output = CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: put.e_tag,
            last_modified: Some(Timestamp::from(std::time::SystemTime::now())),
            checksum_crc32: put.checksum_crc32,
            checksum_crc32c: put.checksum_crc32c,
            checksum_crc64nvme: put.checksum_crc64nvme,
            checksum_sha1: put.checksum_sha1,
            checksum_sha256: put.checksum_sha256,
            checksum_type: put.checksum_type,
        }),
        copy_source_version_id: got.version_id,
        version_id: put.version_id,
        server_side_encryption: put.server_side_encryption,
        ssekms_key_id: put.ssekms_key_id,
        sse_customer_algorithm: put.sse_customer_algorithm,
        sse_customer_key_md5: put.sse_customer_key_md5,
        ..Default::default()
    };
    Ok(S3Response::new(output))
}

pub async fn upload_part_copy(
    gw: &Gateway,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let mut input = req.input;
    let src = route_source(gw, &input.copy_source)?;
    let dst = gw.route(&input.bucket)?;
    if src.route.key == dst.key {
        input.copy_source = upstream_copy_source(&src);
        input.bucket = dst.backend.clone();
        return forward(
            &dst,
            "upload_part_copy",
            gw.proxy(&dst).upload_part_copy(upstream_request(input)),
        )
        .await;
    }
    let range = match input.copy_source_range.as_deref() {
        Some(r) => Some(Range::parse(r).map_err(|_| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("invalid x-amz-copy-source-range {r:?}"),
            )
        })?),
        None => None,
    };
    let read = SourceRead {
        if_match: input.copy_source_if_match,
        if_none_match: input.copy_source_if_none_match,
        if_modified_since: input.copy_source_if_modified_since,
        if_unmodified_since: input.copy_source_if_unmodified_since,
        sse_customer_algorithm: input.copy_source_sse_customer_algorithm,
        sse_customer_key: input.copy_source_sse_customer_key,
        sse_customer_key_md5: input.copy_source_sse_customer_key_md5,
        range,
    };
    let got = read_source(gw, &src, read, "upload_part_copy").await?;
    let part = UploadPartInput {
        bucket: dst.backend.clone(),
        key: input.key,
        upload_id: input.upload_id,
        part_number: input.part_number,
        body: got.body,
        content_length: got.content_length,
        sse_customer_algorithm: input.sse_customer_algorithm,
        sse_customer_key: input.sse_customer_key,
        sse_customer_key_md5: input.sse_customer_key_md5,
        ..Default::default()
    };
    let put = forward(
        &dst,
        "upload_part_copy",
        gw.proxy(&dst).upload_part(upstream_request(part)),
    )
    .await?
    .output;
    let output = UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult {
            e_tag: put.e_tag,
            last_modified: Some(Timestamp::from(std::time::SystemTime::now())),
            checksum_crc32: put.checksum_crc32,
            checksum_crc32c: put.checksum_crc32c,
            checksum_crc64nvme: put.checksum_crc64nvme,
            checksum_sha1: put.checksum_sha1,
            checksum_sha256: put.checksum_sha256,
        }),
        copy_source_version_id: got.version_id,
        server_side_encryption: put.server_side_encryption,
        ssekms_key_id: put.ssekms_key_id,
        sse_customer_algorithm: put.sse_customer_algorithm,
        sse_customer_key_md5: put.sse_customer_key_md5,
        ..Default::default()
    };
    Ok(S3Response::new(output))
}
