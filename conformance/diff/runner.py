"""Start the two sides for one upstream and run cases."""
from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from lib import upstreams, rebucket  # noqa: E402
from lib.procs import WORK_DIR  # noqa: E402
from diff import harness  # noqa: E402


@contextlib.contextmanager
def sides(upstream_name: str, via: str = "rebucket"):
    """Yield (direct, via) Targets. via="rebucket" puts rebucket in front of the same
    upstream; via="direct" compares the upstream with itself (a self-check of the
    harness: every case must come out `same`)."""
    up = upstreams.make(upstream_name).start()
    rb = None
    try:
        rid_d, rid_v = harness.new_run_id(), harness.new_run_id()
        direct = harness.Target("direct", up.port, up.access_key, up.secret_key, run_id=rid_d)
        if via == "rebucket":
            rb = rebucket.Rebucket(up).start()
            vt = harness.Target("via", rb.port, rb.access_key, rb.secret_key,
                                domain=f"{rebucket.DOMAIN}", run_id=rid_v)
        elif via == "direct":
            vt = harness.Target("via", up.port, up.access_key, up.secret_key, run_id=rid_v)
        else:
            raise ValueError(via)
        yield direct, vt, up, rb
    finally:
        if rb:
            rb.stop()
        up.stop()


def run_upstream(upstream_name: str, cases: list, via: str = "rebucket", progress=True,
                 results_path: Path | None = None):
    results = []
    t0 = time.monotonic()
    with sides(upstream_name, via) as (direct, vt, up, rb):
        for i, c in enumerate(cases):
            t1 = time.monotonic()
            r = harness.run_case(c, direct, vt, i, upstream_name, cleaner=direct)
            results.append(r)
            if results_path:
                harness.dump_result(r, results_path)
            if progress:
                dt = time.monotonic() - t1
                mark = {"same": ".", "n/a": "-", "differs": "X"}[r.status]
                print(f"  [{upstream_name}] {i + 1:3d}/{len(cases)} {mark} {c.id} ({dt:.1f}s)"
                      + (f" -- {r.why}" if r.status == "differs" else ""), flush=True)
            for p in ([up.procs[-1]] + ([rb.proc] if rb else [])):
                if not p.alive():
                    raise p.fail("died during the run")
    if progress:
        print(f"  [{upstream_name}] {len(cases)} cases in {time.monotonic() - t0:.0f}s", flush=True)
    return results
