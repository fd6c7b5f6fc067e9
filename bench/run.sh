#!/usr/bin/env bash
# The benchmark in one command: installs the upstream servers the conformance suite uses
# (rclone, SeaweedFS), builds the release binaries and runs bench/run.py through
# `cargo bench --bench gateway`. Knobs: see the top of bench/run.py (BENCH_QUICK=1: smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
bash conformance/setup.sh >&2
exec cargo bench --bench gateway -- "$@"
