//! Trailing checksums on their way upstream.
//!
//! A client may send its object checksum as a trailer of an `aws-chunked` body (boto3 and the
//! AWS CLI do so by default over https). s3s decodes that body at the front and
//! `gateway/body.rs` verifies the trailer as the bytes pass, but the value is known only after
//! the last byte, when the upstream request's headers are long gone. Forwarded as a plain body
//! that merely names the algorithm (`x-amz-sdk-checksum-algorithm` without a value), S3 refuses
//! the request (`400 InvalidRequest`: "x-amz-sdk-checksum-algorithm specified, but no
//! corresponding x-amz-checksum-* or x-amz-trailer headers were found") and other servers
//! compute a value of their own — moto without its optional crc32c library stores a CRC32 as
//! the CRC32C, so the client's later check of the object fails.
//!
//! So an upload that names an algorithm but carries no value goes upstream as S3 clients send
//! it: `aws-chunked`, `STREAMING-UNSIGNED-PAYLOAD-TRAILER`, the checksum of the bytes sent in
//! the trailer (equal to the client's, which was verified before the last byte went out). The
//! SDK would do the same with request checksums on, but over plain http it signs every chunk
//! and the trailer (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`), which some servers store
//! inside the object (rclone); the unsigned form is what boto3 sends and what they all read.
//! The body still streams: chunks are framed as they pass.

use aws_runtime::auth::PayloadSigningOverride;
use aws_runtime::content_encoding::{AwsChunkedBody, AwsChunkedBodyOptions};
use aws_sdk_s3::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::operation::put_object::PutObjectInput;
use aws_sdk_s3::operation::upload_part::UploadPartInput;
use aws_smithy_checksums::body::calculate::ChecksumBody;
use aws_smithy_checksums::http::HttpChecksum;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// Sends the checksum of an upload that names its algorithm but has no value as a trailer.
#[derive(Debug)]
pub struct TrailingChecksum;

/// The algorithm of the trailer to send, then (once framed) the aws-chunked layout.
#[derive(Debug, Clone)]
struct Pending {
    algorithm: aws_smithy_checksums::ChecksumAlgorithm,
    options: Option<AwsChunkedBodyOptions>,
}

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

/// The algorithm to send a trailer for: named, with no value given up front (an algorithm the
/// SDK does not know is left to the upstream).
fn wanted(input: &aws_smithy_runtime_api::client::interceptors::context::Input) -> Option<String> {
    // PutObjectInput and UploadPartInput share these accessors but no trait.
    macro_rules! algorithm_without_value {
        ($i:expr) => {{
            let has_value = $i.checksum_crc32().is_some()
                || $i.checksum_crc32_c().is_some()
                || $i.checksum_crc64_nvme().is_some()
                || $i.checksum_sha1().is_some()
                || $i.checksum_sha256().is_some();
            $i.checksum_algorithm().filter(|_| !has_value)
        }};
    }
    let algorithm = if let Some(i) = input.downcast_ref::<PutObjectInput>() {
        algorithm_without_value!(i)
    } else if let Some(i) = input.downcast_ref::<UploadPartInput>() {
        algorithm_without_value!(i)
    } else {
        None
    };
    algorithm.map(|a| a.as_str().to_owned())
}

impl Intercept for TrailingChecksum {
    fn name(&self) -> &'static str {
        "TrailingChecksum"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(name) = wanted(context.input())
            && let Ok(algorithm) = name.parse()
        {
            cfg.interceptor_state().store_put(Pending {
                algorithm,
                options: None,
            });
        }
        Ok(())
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(pending) = cfg.load::<Pending>().cloned() else {
            return Ok(());
        };
        let req = context.request_mut();
        // In-memory bodies never come from an upload; a body of unknown size cannot be framed
        // with a Content-Length (left as it is: the upstream decides).
        let size = req
            .headers()
            .get("content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| req.body().content_length());
        let (None, Some(size)) = (req.body().bytes(), size) else {
            return Ok(());
        };
        let checksum = pending.algorithm.into_impl();
        let options = AwsChunkedBodyOptions::new(size, vec![HttpChecksum::size(checksum.as_ref())]);
        let headers = req.headers_mut();
        headers.insert("x-amz-trailer", checksum.header_name());
        headers.insert("x-amz-decoded-content-length", size.to_string());
        headers.insert("content-length", options.encoded_length().to_string());
        headers.remove("transfer-encoding");
        let encoding = match headers.get("content-encoding") {
            Some(e) => format!("aws-chunked,{e}"),
            None => "aws-chunked".to_owned(),
        };
        headers.insert("content-encoding", encoding);
        let state = cfg.interceptor_state();
        state.store_put(PayloadSigningOverride::StreamingUnsignedPayloadTrailer);
        state.store_put(Pending {
            options: Some(options),
            ..pending
        });
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Pending {
            algorithm,
            options: Some(options),
        }) = cfg.load::<Pending>().cloned()
        else {
            return Ok(());
        };
        let req = context.request_mut();
        let body = std::mem::replace(req.body_mut(), SdkBody::taken());
        *req.body_mut() = body.map(move |body| {
            let body = ChecksumBody::new(body, algorithm.into_impl());
            SdkBody::from_body_1_x(AwsChunkedBody::new(body, options.clone()))
        });
        Ok(())
    }
}
