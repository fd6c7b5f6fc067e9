//! Operator configuration: the `serve` flags, the optional TOML config file and the start-up
//! environment (`S3_ENDPOINT`, `AWS_PROFILE`, `REBUCKET_*`), validated once into [`ServeConfig`].
