//! The `s3s::S3` implementation: route the bucket(s), rewrite names, call the upstream, map errors.
