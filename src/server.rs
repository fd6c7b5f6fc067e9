//! Start-up and listeners: the S3 front (s3s on hyper), the admin listener, the embedded store.
