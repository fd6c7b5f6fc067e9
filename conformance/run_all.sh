#!/usr/bin/env bash
# The conformance run CI calls after `cargo build` (rebucket at target/debug/rebucket,
# or $REBUCKET_BIN):
#   1. setup.sh
#   2. pytest test_e2e_clients.py and test_permissions.py against moto and rclone (the S3
#      clients end to end; users with per-bucket grants, read-only buckets), test_walkthrough.py,
#      test_anonymous_buckets.py (unsigned clients, the `anonymous` prop)
#   3. run_matrix.py for moto, rclone and SeaweedFS (the differential suite; CONFORMANCE_UPSTREAMS
#      overrides the list, --with-juicefs adds the JuiceFS gateway, --with-garage garage,
#      built from crates.io on first use); a difference that is
#      neither fixed nor listed in KNOWN-DIFFERENCES.md fails the run (CONFORMANCE_STRICT=0:
#      reported only)
# Exit status is non-zero if any step fails; pytest's "no tests ran" (5) counts as failure.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
upstreams="${CONFORMANCE_UPSTREAMS:-moto,rclone,seaweedfs}"
extra=""
setup_args=""
for a in "$@"; do
  case "$a" in
    --with-seaweedfs) ;;  # the default now; kept so older scripts still run
    --with-juicefs) extra="$extra,juicefs"; setup_args="$setup_args --with-juicefs" ;;
    --with-garage) extra="$extra,garage"; setup_args="$setup_args --with-garage" ;;
    *) echo "run_all.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
upstreams="$upstreams$extra"
export REBUCKET_BIN="${REBUCKET_BIN:-$(cd "$here/.." && pwd)/target/debug/rebucket}"

fail=0
step() { echo; echo "=== conformance: $* ==="; }

step setup
bash "$here/setup.sh" $setup_args || exit 1

step "e2e clients and permissions (moto, rclone), the per-bucket walkthrough (two rclone) and anonymous buckets (rclone, moto, SeaweedFS) via $REBUCKET_BIN"
python3 -m pytest "$here/test_e2e_clients.py" "$here/test_walkthrough.py" "$here/test_anonymous_buckets.py" "$here/test_permissions.py" --upstreams moto,rclone -q -p no:cacheprovider
rc=$?
if [ $rc -eq 5 ]; then echo "run_all.sh: pytest collected no e2e tests" >&2; rc=1; fi
[ $rc -ne 0 ] && fail=1

step "differential matrix ($upstreams)"
python3 "$here/run_matrix.py" --upstreams "$upstreams" -q
rc=$?
# A difference neither fixed nor listed in KNOWN-DIFFERENCES.md (after its second run on fresh
# servers) fails the run; CONFORMANCE_STRICT=0 only reports it (table above, .work/matrix.md).
if [ $rc -ne 0 ]; then
  if [ "${CONFORMANCE_STRICT:-1}" = 0 ]; then echo "run_all.sh: the matrix has unlisted differences (reported only: CONFORMANCE_STRICT=0)"; else fail=1; fi
fi

echo
if [ $fail -ne 0 ]; then
  echo "conformance: FAILED (logs in $here/.work/logs, matrix in $here/.work/matrix.md)"
else
  echo "conformance: all passed (matrix in $here/.work/matrix.md)"
fi
exit $fail
