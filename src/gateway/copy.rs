//! Copies: CopyObject and UploadPartCopy, one skeleton ([`copy`]) for both. The source bucket
//! is routed like the destination. When both live on the same upstream (same client key) the
//! copy is forwarded and happens upstream; otherwise it streams through rebucket: GET from the
//! source's upstream, PUT (or UploadPart) to the destination's, never holding more than a few
//! chunks in memory.

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use super::Gateway;
use super::error::GatewayError;
use super::forward::Operation;
use crate::upstream::route::Route;

/// What a copy operation adds to [`Operation`]: where its source is, how its source is read,
/// and the write and answer it becomes when the copy streams through rebucket.
trait Copy: Operation + Clone {
    /// The write the copy becomes on the destination's upstream.
    type Write: Operation;
    fn copy_source_mut(&mut self) -> &mut CopySource;
    /// The source read's conditions, SSE-C key and range, taken from the input.
    fn source_read(&mut self) -> Result<SourceRead, GatewayError>;
    /// The write of `got` (the source's body and metadata) as `backend` on the destination.
    fn write(self, backend: String, got: GetObjectOutput) -> Self::Write;
    /// The copy's answer, from the source's version and the write's output.
    fn answer(
        source_version: Option<String>,
        written: <Self::Write as Operation>::Output,
    ) -> Self::Output;
}

/// The source of a copy, routed.
struct Source {
    route: Route,
    key: String,
    version_id: Option<String>,
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

pub async fn copy_object(
    gw: &Gateway,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    copy(gw, req.input).await
}

pub async fn upload_part_copy(
    gw: &Gateway,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    copy(gw, req.input).await
}

/// A copy: upstream when source and destination share a client, else streamed through.
async fn copy<C: Copy>(gw: &Gateway, mut input: C) -> S3Result<S3Response<C::Output>> {
    let src = route_source(gw, input.copy_source_mut())?;
    let dst = gw.route(input.bucket_mut())?;
    if src.route.key == dst.key {
        *input.copy_source_mut() = CopySource::Bucket {
            bucket: src.route.backend.clone().into(),
            key: src.key.clone().into(),
            version_id: src.version_id.clone().map(Into::into),
        };
        *input.bucket_mut() = dst.backend.clone();
        return gw.send(&dst, C::NAME, input).await;
    }
    let read = input.source_read()?;
    let got = read_source(gw, &src, read, C::NAME).await?;
    let source_version = got.version_id.clone();
    let write = input.write(dst.backend.clone(), got);
    let written = gw.send(&dst, C::NAME, write).await?.output;
    Ok(S3Response::new(C::answer(source_version, written)))
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
        _ => Err(GatewayError::CopySourceArn.into()),
    }
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
    match gw.send(&src.route, op, input).await {
        Ok(resp) => Ok(resp.output),
        Err(e)
            if *e.code() == S3ErrorCode::NotModified
                || e.status_code() == Some(http::StatusCode::NOT_MODIFIED) =>
        {
            Err(GatewayError::CopySourcePrecondition.into())
        }
        Err(e) => Err(e),
    }
}

/// A copy input's source conditions and SSE-C key (the `copy_source_*` fields both copy
/// operations share), taken for the source's GET, with `range`.
macro_rules! source_read {
    ($input:ident, $range:expr) => {
        SourceRead {
            if_match: $input.copy_source_if_match.take(),
            if_none_match: $input.copy_source_if_none_match.take(),
            if_modified_since: $input.copy_source_if_modified_since.take(),
            if_unmodified_since: $input.copy_source_if_unmodified_since.take(),
            sse_customer_algorithm: $input.copy_source_sse_customer_algorithm.take(),
            sse_customer_key: $input.copy_source_sse_customer_key.take(),
            sse_customer_key_md5: $input.copy_source_sse_customer_key_md5.take(),
            range: $range,
        }
    };
}

/// `put` with the metadata of `from`: the source's, or with `REPLACE` the copy's own.
macro_rules! metadata_from {
    ($from:ident, $put:expr) => {
        PutObjectInput {
            metadata: $from.metadata,
            content_type: $from.content_type,
            content_encoding: $from.content_encoding,
            content_disposition: $from.content_disposition,
            content_language: $from.content_language,
            cache_control: $from.cache_control,
            expires: $from.expires,
            ..$put
        }
    };
}

/// A copy's answer from its write's output `put`: the encryption the write reports, and
/// `fields` (evaluated after those are taken).
macro_rules! copy_answer {
    ($output:ident from $put:ident { $($field:ident: $value:expr),* }) => {
        $output {
            server_side_encryption: $put.server_side_encryption.clone(),
            ssekms_key_id: $put.ssekms_key_id.clone(),
            sse_customer_algorithm: $put.sse_customer_algorithm.clone(),
            sse_customer_key_md5: $put.sse_customer_key_md5.clone(),
            $($field: $value,)*
            ..Default::default()
        }
    };
}

/// The checksums and ETag of a write, as a copy's result names them.
macro_rules! copied {
    ($result:ident, $written:expr $(, $field:ident)*) => {{
        let w = $written;
        $result {
            e_tag: w.e_tag,
            last_modified: Some(Timestamp::from(std::time::SystemTime::now())),
            checksum_crc32: w.checksum_crc32,
            checksum_crc32c: w.checksum_crc32c,
            checksum_crc64nvme: w.checksum_crc64nvme,
            checksum_sha1: w.checksum_sha1,
            checksum_sha256: w.checksum_sha256,
            $($field: w.$field,)*
        }
    }};
}

impl Copy for CopyObjectInput {
    type Write = PutObjectInput;

    fn copy_source_mut(&mut self) -> &mut CopySource {
        &mut self.copy_source
    }

    fn source_read(&mut self) -> Result<SourceRead, GatewayError> {
        Ok(source_read!(self, None))
    }

    fn write(self, backend: String, got: GetObjectOutput) -> PutObjectInput {
        let input = self;
        // `REPLACE` takes the copy's own metadata; otherwise the source's is kept.
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let put = PutObjectInput {
            bucket: backend,
            key: input.key,
            body: got.body,
            content_length: got.content_length,
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
        if replace {
            metadata_from!(input, put)
        } else {
            metadata_from!(got, put)
        }
    }

    fn answer(source_version: Option<String>, put: PutObjectOutput) -> CopyObjectOutput {
        copy_answer!(CopyObjectOutput from put {
            version_id: put.version_id.clone(),
            copy_object_result: Some(copied!(CopyObjectResult, put, checksum_type)),
            copy_source_version_id: source_version
        })
    }
}

impl Copy for UploadPartCopyInput {
    type Write = UploadPartInput;

    fn copy_source_mut(&mut self) -> &mut CopySource {
        &mut self.copy_source
    }

    fn source_read(&mut self) -> Result<SourceRead, GatewayError> {
        let range = match self.copy_source_range.as_deref() {
            Some(r) => Some(
                Range::parse(r).map_err(|_| GatewayError::InvalidCopySourceRange(r.to_owned()))?,
            ),
            None => None,
        };
        Ok(source_read!(self, range))
    }

    fn write(self, backend: String, got: GetObjectOutput) -> UploadPartInput {
        UploadPartInput {
            bucket: backend,
            key: self.key,
            upload_id: self.upload_id,
            part_number: self.part_number,
            body: got.body,
            content_length: got.content_length,
            sse_customer_algorithm: self.sse_customer_algorithm,
            sse_customer_key: self.sse_customer_key,
            sse_customer_key_md5: self.sse_customer_key_md5,
            ..Default::default()
        }
    }

    fn answer(source_version: Option<String>, put: UploadPartOutput) -> UploadPartCopyOutput {
        copy_answer!(UploadPartCopyOutput from put {
            copy_part_result: Some(copied!(CopyPartResult, put)),
            copy_source_version_id: source_version
        })
    }
}
