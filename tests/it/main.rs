//! The integration tests of rebucket, in one test crate: one binary, one build of the shared
//! harness (`common`), and one process, so the memory measurements can hold every other test
//! off (see `common::heavy`).
//!
//! Every test either runs or is `#[ignore]`d with its reason; the ignored ones need an external
//! server (moto_server, installed by `conformance/setup.sh`) and CI runs them with
//! `cargo test -- --include-ignored` (see `.ci/run`).

mod anonymous;
mod anonymous_buckets;
mod aws_config_vectors;
mod churn;
mod cli;
mod common;
mod faults;
mod fuzz;
mod gateway;
mod layering;
mod load;
mod normalized_answers;
mod observe;
mod permissions;
mod profiles;
mod registry;
mod replicas;
mod routing;
mod s3_accepts;
