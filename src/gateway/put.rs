//! Uploads: PutObject, POST object (browser forms), CreateMultipartUpload, UploadPart,
//! CompleteMultipartUpload. Bodies stream straight through; one declaring more than S3's 5 GiB
//! limit is refused before a byte of it is read.
//!
//! s3s has already decoded any `aws-chunked` body (and checked its chunk signatures) but leaves
//! `aws-chunked` in `Content-Encoding`, which is stripped before forwarding
//! ([`strip_aws_chunked`]).

use s3s::dto::*;
use s3s::stream::ByteStream;
use s3s::{S3, S3Request, S3Response, S3Result};

use super::body::watch_body;
use super::error::{GatewayError, MAX_UPLOAD_SIZE};
use super::forward::Operation;
use super::get::strip_aws_chunked;
use super::{FrontOrigin, Gateway, object_url};

/// The checksum algorithm the client named. s3s reads only `x-amz-checksum-algorithm` (and the
/// trailer), while SDKs name it in `x-amz-sdk-checksum-algorithm`; without it the upstream
/// client would drop that header, and some upstreams then neither check nor echo the checksum.
fn checksum_algorithm(
    given: Option<ChecksumAlgorithm>,
    headers: &http::HeaderMap,
) -> Option<ChecksumAlgorithm> {
    given.or_else(|| {
        let v = headers.get("x-amz-sdk-checksum-algorithm")?.to_str().ok()?;
        Some(ChecksumAlgorithm::from(v.trim().to_ascii_uppercase()))
    })
}

/// Refuses a body declaring more than [`MAX_UPLOAD_SIZE`], as S3 does, before it is read or
/// the upstream is called: otherwise the client would stream gigabytes only to be refused at
/// the end. The decoded length of an aws-chunked body counts, not its encoded one.
fn check_size(
    body: Option<&StreamingBlob>,
    content_length: Option<i64>,
) -> Result<(), GatewayError> {
    let declared = body
        .and_then(|b| b.remaining_length().exact())
        .map(|n| n as u64)
        .or_else(|| content_length.and_then(|n| u64::try_from(n).ok()));
    match declared {
        Some(size) if size > MAX_UPLOAD_SIZE => Err(GatewayError::EntityTooLarge { size }),
        _ => Ok(()),
    }
}

/// What PutObject and UploadPart share: a body that streams upstream, checked on its way.
trait Upload: Operation {
    fn body_mut(&mut self) -> &mut Option<StreamingBlob>;
    fn content_length(&self) -> Option<i64>;
    fn checksum_algorithm_mut(&mut self) -> &mut Option<ChecksumAlgorithm>;
}

macro_rules! upload {
    ($($input:ident),*) => {$(
        impl Upload for $input {
            fn body_mut(&mut self) -> &mut Option<StreamingBlob> {
                &mut self.body
            }
            fn content_length(&self) -> Option<i64> {
                self.content_length
            }
            fn checksum_algorithm_mut(&mut self) -> &mut Option<ChecksumAlgorithm> {
                &mut self.checksum_algorithm
            }
        }
    )*};
}

upload!(PutObjectInput, UploadPartInput);

/// Forwards an upload: refused early when too large, its checksum algorithm named, its body
/// watched (see [`watch_body`]); a failure of the client's body is answered as the client's.
async fn upload<I: Upload>(gw: &Gateway, req: S3Request<I>) -> S3Result<S3Response<I::Output>> {
    let mut input = req.input;
    let declared = input.content_length();
    check_size(input.body_mut().as_ref(), declared)?;
    let named = input.checksum_algorithm_mut().take();
    *input.checksum_algorithm_mut() = checksum_algorithm(named, &req.headers);
    let (body, verdict) = watch_body(input.body_mut().take(), &req.headers, req.trailing_headers);
    *input.body_mut() = body;
    gw.forward(input)
        .await
        .map_err(|e| verdict.take().unwrap_or(e))
}

pub async fn put_object(
    gw: &Gateway,
    mut req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    req.input.content_encoding = strip_aws_chunked(req.input.content_encoding.take());
    upload(gw, req).await
}

/// The upload of a POST object, as s3s's default does it (a PutObject of the form's file),
/// without the other operations of the gateway.
struct PutOnly(Gateway);

#[async_trait::async_trait]
impl S3 for PutOnly {
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        put_object(&self.0, req).await
    }
}

/// POST object: s3s checks the form and its policy and writes the answer's status and body, but
/// sends neither the `ETag` nor the `Location` header S3 sends (browser code reads them). The
/// `Location` is the object's URL through rebucket; with `success_action_redirect` s3s answers
/// 303 and its `Location` is the redirect, as in S3. `front/mend.rs` puts the same URL in the
/// `<PostResponse>` of a 201.
pub async fn post_object(
    gw: &Gateway,
    req: S3Request<PostObjectInput>,
) -> S3Result<S3Response<PostObjectOutput>> {
    let location = req.input.success_action_redirect.is_none().then(|| {
        let origin = req.extensions.get::<FrontOrigin>();
        object_url(origin, &req.input.bucket, &req.input.key)
    });
    let mut resp = PutOnly(gw.clone()).post_object(req).await?;
    if let Some(etag) = resp.output.e_tag.as_ref()
        && let Ok(value) = etag.to_http_header()
    {
        resp.headers.insert(http::header::ETAG, value);
    }
    if let Some(value) = location.and_then(|l| http::HeaderValue::try_from(l).ok()) {
        resp.headers.insert(http::header::LOCATION, value);
    }
    Ok(resp)
}

pub async fn create_multipart_upload(
    gw: &Gateway,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let mut input = req.input;
    input.content_encoding = strip_aws_chunked(input.content_encoding);
    gw.forward(input).await
}

pub async fn upload_part(
    gw: &Gateway,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    upload(gw, req).await
}

pub async fn complete_multipart_upload(
    gw: &Gateway,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let origin = req.extensions.get::<FrontOrigin>().cloned();
    let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
    let mut resp = gw.forward(req.input).await?;
    // The upstream's Location addresses the object on the upstream (its host, the backend
    // bucket name): the client gets the object's URL through rebucket. An upstream that gives
    // none (or an empty one) still gives none.
    if let Some(location) = resp.output.location.as_mut()
        && !location.is_empty()
    {
        *location = object_url(origin.as_ref(), &bucket, &key);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::{GatewayError, MAX_UPLOAD_SIZE, check_size};

    #[test]
    fn refuses_only_bodies_above_5_gib() {
        let max = MAX_UPLOAD_SIZE as i64;
        assert!(check_size(None, Some(max)).is_ok());
        assert!(check_size(None, None).is_ok());
        let err = check_size(None, Some(max + 1)).unwrap_err();
        assert_eq!(
            err,
            GatewayError::EntityTooLarge {
                size: MAX_UPLOAD_SIZE + 1
            }
        );
    }
}
