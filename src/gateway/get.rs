//! Reads: what GET, HEAD and GetObjectAttributes need beyond plain forwarding.
//!
//! - An object's `Content-Encoding` is served as S3 keeps it: never `aws-chunked`, which only
//!   describes how an upload was framed ([`strip_aws_chunked`], also applied to uploads).
//! - GetObjectAttributes' attribute list arrives as one comma-separated header.

use s3s::dto::{GetObjectAttributesInput, GetObjectOutput, HeadObjectOutput, ObjectAttributes};

/// `Content-Encoding` without the `aws-chunked` token (`None` if nothing else is left).
///
/// [Uploading with aws-chunked](https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html):
/// the token describes the framing of one request, not the object's content. s3s has already
/// decoded such a body but leaves the token in the input; forwarded as is, the upstream client
/// would add its own and the upstream would refuse the duplicate.
pub(super) fn strip_aws_chunked(encoding: Option<String>) -> Option<String> {
    let encoding = encoding?;
    let kept: Vec<&str> = encoding
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

/// Some upstreams (rclone) store `aws-chunked` with an object uploaded that way, as rebucket
/// uploads one whose checksum the client sent as a trailer (see `upstream::trailer`), and a
/// client reading it back would take it for the body's encoding.
pub(super) fn stored_encoding_get(out: &mut GetObjectOutput) {
    out.content_encoding = strip_aws_chunked(out.content_encoding.take());
}

/// [`stored_encoding_get`] for HeadObject.
pub(super) fn stored_encoding_head(out: &mut HeadObjectOutput) {
    out.content_encoding = strip_aws_chunked(out.content_encoding.take());
}

/// S3 clients send the attributes as one comma-separated header (`x-amz-object-attributes:
/// ETag,ObjectSize`), which s3s keeps as one value (it splits only repeated header lines); the
/// SDK would send that value upstream quoted (`"ETag,ObjectSize"`), and servers refuse it as an
/// invalid attribute name. Splits it into the attributes the client named.
pub(super) fn split_object_attributes(input: &mut GetObjectAttributesInput) {
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
    fn strips_only_the_aws_chunked_token() {
        assert_eq!(strip_aws_chunked(Some("aws-chunked".into())), None);
        assert_eq!(
            strip_aws_chunked(Some("aws-chunked,gzip".into())),
            Some("gzip".into())
        );
        assert_eq!(
            strip_aws_chunked(Some("gzip, AWS-CHUNKED".into())),
            Some("gzip".into())
        );
        assert_eq!(strip_aws_chunked(Some("gzip".into())), Some("gzip".into()));
        assert_eq!(strip_aws_chunked(None), None);
    }

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
