//! Region lookup: `HeadBucket` on the upstream, reading `x-amz-bucket-region` (also present on
//! the 301 an upstream sends when asked in the wrong region).

use aws_sdk_s3::operation::head_bucket::HeadBucketError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The bucket exists; its region if the upstream told.
    Found(Option<String>),
    /// The upstream refused (`403`) but named the bucket's region, as S3 does for a bucket
    /// the credentials may not use
    /// (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html>).
    Refused { region: String },
    /// The upstream says there is no such bucket.
    Missing,
    /// The upstream could not be asked, or refused (message safe to show).
    Failed(String),
}

/// Looks `bucket` up on the upstream reached by `client`.
pub async fn lookup(client: &aws_sdk_s3::Client, bucket: &str) -> Lookup {
    match client.head_bucket().bucket(bucket).send().await {
        Ok(out) => Lookup::Found(out.bucket_region().map(str::to_owned)),
        Err(err) => from_error(&err),
    }
}

fn from_error(err: &SdkError<HeadBucketError, HttpResponse>) -> Lookup {
    if let Some(raw) = err.raw_response() {
        if let Some(region) = raw.headers().get("x-amz-bucket-region") {
            if raw.status().as_u16() == 403 {
                return Lookup::Refused {
                    region: region.to_owned(),
                };
            }
            return Lookup::Found(Some(region.to_owned()));
        }
        if raw.status().as_u16() == 404 {
            return Lookup::Missing;
        }
        return Lookup::Failed(format!(
            "HeadBucket answered HTTP {}",
            raw.status().as_u16()
        ));
    }
    Lookup::Failed(format!(
        "HeadBucket failed: {}",
        super::error::root_cause(err)
    ))
}
