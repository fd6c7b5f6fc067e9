//! rebucket: an S3-compatible gateway that routes every bucket to its own upstream S3 server,
//! signing upstream requests with that bucket's own AWS profile.
//!
//! Layout (see `ARCHITECTURE.md`):
//! - [`profiles`]: the AWS shared `config`/`credentials` parser and profile resolution.
//! - [`registry`]: bucket -> properties, validated and persisted in the data dir.
//! - [`upstream`]: upstream S3 clients, their cache, region lookup and error mapping.
//! - [`gateway`]: the `s3s::S3` implementation that routes and forwards every operation.
//! - [`admin`]: the token-protected JSON admin API.
//! - [`front`]: requests the S3 front answers before s3s's operations (custom routes).
//! - [`server`]: listeners, the embedded default store, start-up.
//! - [`listener`]: the bounds of every listener's connections (timeouts, limits).
//! - [`cli`]: the `rebucket` command line.
//! - [`metrics`]: Prometheus metrics, request ids and readiness, a leaf every layer calls.

pub mod admin;
pub mod cli;
pub mod config;
pub mod front;
pub mod gateway;
pub mod listener;
pub mod metrics;
pub mod profiles;
pub mod registry;
pub mod s3s_errors;
pub mod server;
pub mod upstream;
