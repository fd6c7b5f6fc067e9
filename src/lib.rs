//! rebucket: an S3-compatible gateway that routes every bucket to its own upstream S3 server,
//! signing upstream requests with that bucket's own AWS profile.
//!
//! A request goes front → gateway → upstream → (registry, profiles), and so do the imports
//! (see `ARCHITECTURE.md`; `tests/it/layering.rs` checks it):
//! - [`front`]: the S3 front: s3s with the front's identities and routes, inside the layer that
//!   gives every request its id, parity fixes, CORS and log line.
//! - [`config`]: the operator's settings, validated once.
//! - [`gateway`]: the `s3s::S3` implementation that routes and forwards every operation.
//! - [`upstream`]: upstream S3 clients, their cache and bounds, routing, error mapping.
//! - [`registry`]: bucket -> typed properties, persisted in the data dir.
//! - [`profiles`]: the AWS shared `config`/`credentials` parser and profile resolution.
//!
//! Wiring on top: [`cli`] (the `rebucket` command line), [`server`] (listeners, the embedded
//! default store, start-up), [`admin`] (the token-protected JSON admin API). Leaves below
//! everything: [`listener`] (connection bounds), [`metrics`] (Prometheus metrics, request ids),
//! [`s3s_errors`] (the one adapter for s3s's untyped errors).

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
