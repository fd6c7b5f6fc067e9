//! The integration tests of rebucket, in one test crate: one binary, one build of the shared
//! harness (`common`), and one process, so the memory measurements can hold every other test
//! off (see `common::heavy`).

mod aws_config_vectors;
mod common;
mod gateway;
mod profiles;
mod registry;
mod routing;
