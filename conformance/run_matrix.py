#!/usr/bin/env python3
"""Run the differential suite (conformance/diff) for several upstreams and print a
cases x upstream table. Exits non-zero if a case differs and is not listed in
KNOWN-DIFFERENCES.md.

  conformance/run_matrix.py [--upstreams moto,rclone,seaweedfs] [-k SUBSTR] [--via direct]
  conformance/run_matrix.py --rescore [RESULTS.jsonl]   # re-judge a finished run against the
                                                        # current KNOWN-DIFFERENCES.md, no servers
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from diff import harness, runner  # noqa: E402
from lib import rebucket  # noqa: E402
from lib.procs import WORK_DIR  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstreams", default="moto,rclone,seaweedfs")
    ap.add_argument("-k", dest="filter", default="", help="only cases whose id contains one of these comma-separated substrings")
    ap.add_argument("--via", default="rebucket", choices=["rebucket", "direct"],
                    help="'direct' compares each upstream with itself (harness self-check)")
    ap.add_argument("--known", default=str(HERE / "KNOWN-DIFFERENCES.md"))
    ap.add_argument("--out", default=str(WORK_DIR / "matrix.md"))
    ap.add_argument("-q", "--quiet", action="store_true")
    ap.add_argument("--no-retry", action="store_true",
                    help="do not run unlisted differences a second time (see flaky in the report)")
    ap.add_argument("--rescore", nargs="?", const=str(WORK_DIR / "matrix-results.jsonl"),
                    help="judge the outcomes recorded by an earlier run instead of running cases")
    args = ap.parse_args()
    if args.rescore:
        return rescore(args)

    if args.via == "rebucket":
        ok, why = rebucket.available()
        if not ok:
            print(f"run_matrix: rebucket is not usable: {why}", file=sys.stderr)
            return 2
    cases = list(harness.load_cases().values())
    if args.filter:
        subs = [s for s in args.filter.split(",") if s]
        cases = [c for c in cases if any(s in c.id for s in subs)]
    if not cases:
        print("run_matrix: no cases selected", file=sys.stderr)
        return 2
    ups = [u.strip() for u in args.upstreams.split(",") if u.strip()]
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    results_path = WORK_DIR / "matrix-results.jsonl"
    results_path.write_text("")

    table: dict[str, dict[str, harness.Result]] = {c.id: {} for c in cases}
    errors = {}
    for u in ups:
        print(f"== {u}: {len(cases)} cases, direct vs {args.via}", flush=True)
        try:
            for r in runner.run_upstream(u, cases, args.via, progress=not args.quiet,
                                         results_path=results_path):
                table[r.case_id][u] = r
        except Exception as e:  # an upstream or rebucket that fails to start / dies
            errors[u] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            print(f"== {u}: run aborted: {e}", file=sys.stderr, flush=True)
    flaky = [] if args.no_retry else retry_unknown(args, cases, ups, table, errors, results_path)
    return report(args, cases, ups, table, errors, results_path, flaky)


def retry_unknown(args, cases, ups, table, errors, results_path) -> list[harness.Result]:
    """Runs every unlisted difference once more, on freshly started servers. A case that then
    comes out otherwise keeps its second outcome and is reported as flaky with its first one."""
    known = harness.load_known(Path(args.known))
    flaky = []
    for u in ups:
        if u in errors:
            continue
        again = [c for c in cases if (r := table[c.id].get(u)) and r.status == "differs"
                 and not harness.is_known(known, c.id, u, r.diffs)]
        if not again:
            continue
        print(f"== {u}: running {len(again)} unlisted difference(s) again", flush=True)
        try:
            for r in runner.run_upstream(u, again, args.via, progress=not args.quiet,
                                         results_path=results_path):
                first = table[r.case_id][u]
                if r.status != "differs" or harness.is_known(known, r.case_id, u, r.diffs):
                    flaky.append(first)
                table[r.case_id][u] = r
        except Exception as e:
            errors[u] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return flaky


def rescore(args) -> int:
    """Rebuild the table from a results file written by an earlier run."""
    path = Path(args.rescore)
    table: dict[str, dict[str, harness.Result]] = {}
    ups: list[str] = []
    for line in path.read_text().splitlines():
        j = json.loads(line)
        if args.filter and not any(s in j["case"] for s in args.filter.split(",") if s):
            continue
        direct = harness.Outcome(j["direct"] or [], [], None, j.get("direct_trace"))
        via = harness.Outcome(j["via"] or [], [], None, j.get("via_trace"))
        diffs = harness.all_diffs(harness._strip(direct.obs), harness._strip(via.obs))
        r = harness.Result(j["case"], j["upstream"], j["status"], j["why"], direct, via, diffs)
        table.setdefault(j["case"], {})[j["upstream"]] = r
        if j["upstream"] not in ups:
            ups.append(j["upstream"])
    cases = [c for c in harness.load_cases().values() if c.id in table]
    if not cases:
        print(f"run_matrix: no recorded outcomes in {path}", file=sys.stderr)
        return 2
    return report(args, cases, ups, table, {}, path)


def report(args, cases, ups, table, errors, results_path, flaky=()) -> int:
    known = harness.load_known(Path(args.known))
    unknown_diffs = []
    stats = {u: {"same": 0, "n/a": 0, "differs": 0, "known": 0} for u in ups}
    rows = []
    for c in cases:
        cells = []
        for u in ups:
            r = table[c.id].get(u)
            if r is None:
                cells.append("not run")
                continue
            stats[u][r.status] += 1
            cell = r.cell()
            if r.status == "differs":
                reason = harness.is_known(known, c.id, u, r.diffs)
                if reason:
                    stats[u]["known"] += 1
                    cell = f"differs, known ({r.why})"
                else:
                    unknown_diffs.append(r)
            cells.append(cell)
        rows.append((c.id, cells))

    lines = ["# rebucket conformance matrix", "",
             f"{time.strftime('%Y-%m-%d %H:%M:%S')}, {len(cases)} cases, direct vs {args.via}", "",
             "| case | " + " | ".join(ups) + " |", "| --- |" + " --- |" * len(ups)]
    for cid, cells in rows:
        lines.append(f"| {cid} | " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
    lines += ["", "| upstream | same | n/a | differs (known) | transparency |", "| --- | --- | --- | --- | --- |"]
    summary = []
    for u in ups:
        s = stats[u]
        total = s["same"] + s["n/a"] + s["differs"]
        ratio = (s["same"] + s["n/a"]) / total if total else 0.0
        lines.append(f"| {u} | {s['same']} | {s['n/a']} | {s['differs']} ({s['known']}) | {ratio:.1%} |")
        summary.append(f"{u}: same {s['same']}, n/a {s['n/a']}, differs {s['differs']} "
                       f"({s['known']} known), transparency {ratio:.1%}"
                       + (f", RUN ABORTED: {errors[u]}" if u in errors else ""))
    if flaky:
        lines += ["", "Differed on the first run only (second run counted):", ""]
        lines += [f"- {r.case_id} | {r.upstream} | {r.why}" for r in flaky]
    Path(args.out).write_text("\n".join(lines) + "\n")

    # terminal table
    w = max(len(c.id) for c in cases)
    print()
    print(f"{'case':<{w}}  " + "  ".join(f"{u:<12}" for u in ups))
    for cid, cells in rows:
        if args.quiet and all(x.startswith(("same", "n/a")) for x in cells):
            continue
        print(f"{cid:<{w}}  " + "  ".join(cells))
    print()
    for s in summary:
        print(s)
    print(f"matrix written to {args.out}; step-by-step outcomes in {results_path}")
    # Lines naming one case on one upstream that came out without a difference: out of date.
    stale = [(cid, u) for (cid, u) in known if u in ups and cid in table and u in table[cid]
             and table[cid][u].status != "differs"]
    if stale:
        print(f"\n{len(stale)} KNOWN-DIFFERENCES line(s) whose case no longer differs:")
        for cid, u in stale:
            print(f"  {cid} | {u} | now {table[cid][u].status}")
    if unknown_diffs:
        print(f"\n{len(unknown_diffs)} difference(s) not in KNOWN-DIFFERENCES.md:")
        for r in unknown_diffs:
            print(f"  {r.case_id} | {r.upstream} | {r.why}")
    if flaky:
        print(f"\n{len(flaky)} case(s) differed on the first run only (flaky; second run counted):")
        for r in flaky:
            print(f"  {r.case_id} | {r.upstream} | first run: {r.why}")
    if errors:
        print(f"\nupstream runs aborted: {errors}")
    return 1 if (unknown_diffs or errors) else 0


if __name__ == "__main__":
    sys.exit(main())
