#!/usr/bin/env bash
# The replicas benchmark: propagation latency (p50/p99/max) of a registry change to 3 replicas
# over one shared registry object, and the store requests per replica per second at idle, over
# moto_server and SeaweedFS (installed by conformance/setup.sh). The figures are the ones the
# replica tests (tests/it/replicas.rs) measure while they check that no change is lost; what
# sets them is `registry_poll_ms` (polling, not CPU), so the debug build measures the same.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
bash conformance/setup.sh >&2
cargo test --test it -- --include-ignored --nocapture --test-threads 1 \
    replicas::three_replicas_on_moto_see_every_change_within_a_second_and_lose_none \
    replicas::three_replicas_on_seaweedfs_lose_no_change_and_outlive_its_restart 2>&1 |
    grep -oE 'replicas over .*|test result.*'
