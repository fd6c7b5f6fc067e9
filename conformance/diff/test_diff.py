"""pytest entry to the differential suite, for working on single cases:

    pytest conformance/diff --upstreams moto,rclone -k range
    pytest conformance/diff --via direct          # harness self-check, no rebucket

A case fails when direct and via outcomes differ and the difference is not listed in
KNOWN-DIFFERENCES.md. run_matrix.py runs the same cases and prints the full table."""
from __future__ import annotations

from pathlib import Path

import pytest

from diff import harness, runner
from lib import rebucket

CASES = harness.load_cases()
KNOWN = harness.load_known(Path(__file__).resolve().parent.parent / "KNOWN-DIFFERENCES.md")


def pytest_generate_tests(metafunc):
    if "sides" in metafunc.fixturenames:
        ups = [u.strip() for u in (metafunc.config.getoption("--upstreams") or "moto").split(",") if u.strip()]
        metafunc.parametrize("sides", ups, indirect=True, scope="module")
        metafunc.parametrize("case_id", list(CASES))


@pytest.fixture(scope="module")
def sides(request):
    via = request.config.getoption("--via")
    if via == "rebucket":
        ok, why = rebucket.available()
        if not ok:
            pytest.fail(f"rebucket is not usable: {why}", pytrace=False)
    with runner.sides(request.param, via) as s:
        yield request.param, s


_index = {cid: i for i, cid in enumerate(CASES)}


def test_case(sides, case_id):
    upstream, (direct, via, up, rb) = sides
    r = harness.run_case(CASES[case_id], direct, via, _index[case_id], upstream, cleaner=direct)
    if r.direct.trace:
        print("direct side raised:\n" + r.direct.trace)
    if r.via.trace:
        print("via side raised:\n" + r.via.trace)
    if r.status == "differs":
        known = harness.is_known(KNOWN, case_id, upstream, r.diffs)
        if known:
            pytest.xfail(f"known difference: {known} ({r.why})")
        import json
        detail = json.dumps({"direct": harness._strip(r.direct.obs), "via": harness._strip(r.via.obs)},
                            indent=1, default=str, ensure_ascii=False)
        pytest.fail(f"{case_id} on {upstream}: {r.why}\n{detail[:6000]}", pytrace=False)
    if r.status == "n/a":
        pytest.skip(f"n/a on {upstream}: {r.why}")
