#!/usr/bin/env python3
"""rebucket's benchmark driver: every workload, directly against the upstream and through
`rebucket serve`, in interleaved rounds; prints medians, ratios (via/direct), the gateway's CPU
per request (utime+stime from /proc/PID/stat, see proc(5)) and its peak RSS.

Run it with `cargo bench --bench gateway` (builds the release binaries, then runs this file) or
`bench/run.sh` (also installs the upstream servers). The load client and the s3s-fs upstream are
the bench binary itself (benches/gateway.rs); rclone `serve s3` and SeaweedFS are started as the
conformance suite starts them (conformance/lib/upstreams.py); rebucket runs as its own process,
so its CPU time and RSS are its own.

Knobs (environment):
  BENCH_UPSTREAMS   s3s-fs,rclone,seaweedfs      which upstreams, in order
  BENCH_WORKLOADS   get,head,put,list,put-large,get-large,multipart,get256,get-rate
  BENCH_ROUNDS      3        rounds; each round runs direct and via back to back, order alternating
  BENCH_REQUESTS    20000    requests per round for the small-request workloads (4 KiB GET/HEAD/PUT)
  BENCH_LIST_REQUESTS 1000   ListObjectsV2 pages per round
  BENCH_LIST_KEYS   1000     keys in the listed prefix (one page)
  BENCH_LARGE_MIB   1024     size of the single-stream and multipart objects
  BENCH_PARTS       8        parallel parts of the multipart upload
  BENCH_CONNS       16       connections of the small-request workloads; get256 uses 256
  BENCH_RATE        2000     get-rate: 4 KiB GETs at this fixed rate (req/s) over BENCH_CONNS
                             connections, an open loop: its p99 is what rebucket adds to a
                             request's latency at a load both it and the upstream carry (the
                             closed-loop workloads' p99 follows their throughput, see
                             docs/PERFORMANCE.md)
  BENCH_RUST_LOG    info     rebucket's RUST_LOG (its default for `serve` is info)
  BENCH_WORK_DIR    bench/.work  the upstreams' data and rebucket's data dir (the logs stay
                             in bench/.work/logs). A tmpfs here takes the disk out of large
                             streams, but needs room: SeaweedFS keeps every overwritten 1 GiB
                             object until it vacuums (~4 GiB a round)
  BENCH_QUICK=1              smoke run (s3s-fs only, 1 round, tiny counts): a few seconds
  BENCH_PERF=DIR             record `perf record -F 1999 -g` of rebucket during each via `get` run
  BENCH_JSON=FILE            also write every sample as JSON
  BENCH_REBUCKET_ENV="K=V …" extra environment for rebucket (e.g. TOKIO_WORKER_THREADS=1)
  BENCH_VARIANTS="label=BIN [K=V …];label2=BIN2 …"
                             A/B: one rebucket per variant (its binary, extra environment) in
                             front of the same upstream, all measured in the same interleaved
                             rounds; one table per variant. Default: one variant, REBUCKET_BIN.
"""
from __future__ import annotations

import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("CONFORMANCE_WORK_DIR",
                      os.environ.get("BENCH_WORK_DIR") or str(ROOT / "bench" / ".work"))
# The logs stay on disk wherever the data goes (BENCH_WORK_DIR=/dev/shm/...): rebucket's
# per-request log line is part of what a request costs it, and a log on tmpfs would make that
# cheaper than on any real machine.
os.environ.setdefault("CONFORMANCE_LOG_DIR", str(ROOT / "bench" / ".work" / "logs"))
sys.path.insert(0, str(ROOT))

from conformance.lib import upstreams  # noqa: E402
from conformance.lib.procs import Proc, free_port, remove_tmpdir, LOOPBACK  # noqa: E402
from conformance.lib.rebucket import Rebucket  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"


def knob(name: str, default, quick=None):
    v = os.environ.get(name)
    if v is not None:
        return type(default)(v)
    return quick if (QUICK and quick is not None) else default


UPSTREAMS = knob("BENCH_UPSTREAMS", "s3s-fs,rclone,seaweedfs", "s3s-fs").split(",")
WORKLOADS = knob("BENCH_WORKLOADS",
                 "get,head,put,list,put-large,get-large,multipart,get256,get-rate").split(",")
ROUNDS = knob("BENCH_ROUNDS", 3, 1)
REQUESTS = knob("BENCH_REQUESTS", 20000, 500)
LIST_REQUESTS = knob("BENCH_LIST_REQUESTS", 1000, 50)
LIST_KEYS = knob("BENCH_LIST_KEYS", 1000, 1000)
LARGE_MIB = knob("BENCH_LARGE_MIB", 1024, 16)
PARTS = knob("BENCH_PARTS", 8, 2)  # parts of at least 5 MiB (S3 minimum) in quick mode
CONNS = knob("BENCH_CONNS", 16)
RATE = knob("BENCH_RATE", 2000, 1000)
RUST_LOG = knob("BENCH_RUST_LOG", "info")
PERF = os.environ.get("BENCH_PERF")
CLIENT = os.environ.get("BENCH_CLIENT")
TICK = os.sysconf("SC_CLK_TCK")

# workload -> (client subcommand, extra args, unit)
SPEC = {
    "get": ("load", ["--op", "get", "--conns", CONNS, "--requests", REQUESTS], "req/s"),
    "head": ("load", ["--op", "head", "--conns", CONNS, "--requests", REQUESTS], "req/s"),
    "put": ("load", ["--op", "put", "--conns", CONNS, "--requests", REQUESTS], "req/s"),
    "list": ("load", ["--op", "list", "--conns", 4, "--requests", LIST_REQUESTS,
                      "--list-keys", LIST_KEYS], "req/s"),
    "put-large": ("put-large", ["--mib", LARGE_MIB], "MiB/s"),
    "get-large": ("get-large", ["--mib", LARGE_MIB], "MiB/s"),
    "multipart": ("multipart", ["--mib", LARGE_MIB, "--parts", PARTS], "MiB/s"),
    "get256": ("load", ["--op", "get", "--conns", 256, "--requests", REQUESTS], "req/s"),
    "get-rate": ("load", ["--op", "get", "--conns", CONNS, "--requests", REQUESTS,
                          "--rate", RATE], "req/s"),
}
LABEL = {
    "get": f"4 KiB GET ×{CONNS}",
    "head": f"HEAD ×{CONNS}",
    "put": f"4 KiB PUT ×{CONNS}",
    "list": f"ListObjectsV2 {LIST_KEYS} keys ×4",
    "put-large": f"{LARGE_MIB} MiB PUT ×1",
    "get-large": f"{LARGE_MIB} MiB GET ×1",
    "multipart": f"{LARGE_MIB} MiB multipart ×{PARTS}",
    "get256": "4 KiB GET ×256",
    "get-rate": f"4 KiB GET at {RATE:,} req/s ×{CONNS}",
}


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks: proc(5) fields 14 and 15."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def reset_peak_rss(pid: int) -> None:
    """Writing 5 to clear_refs resets VmHWM (proc(5), since Linux 4.0)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class S3sFs(upstreams.Upstream):
    """An s3s-fs store served by the bench binary (`serve-fs`), in a process of its own."""
    name = "s3s-fs"
    access_key = "s3sfs-ak"
    secret_key = "s3sfs-secret-key-0123456789"

    def _start(self):
        self.port = free_port()
        self.procs.append(Proc("s3s-fs", [
            CLIENT, "serve-fs", "--port", self.port, "--dir", self.tmp / "data",
            "--ak", self.access_key, "--sk", self.secret_key]))


def make_upstream(name: str):
    return S3sFs() if name == "s3s-fs" else upstreams.make(name)


class ClientFailed(Exception):
    pass


def client(cmd: str, endpoint: str, ak: str, sk: str, args: list) -> dict:
    argv = [CLIENT, cmd, endpoint, "--ak", ak, "--sk", sk, *map(str, args)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise ClientFailed(f"bench client failed: {' '.join(argv)}\n{out.stderr[:600]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_one(workload: str, target, gw_pid: int, up_pids: list[int], via: bool) -> dict:
    cmd, args, _ = SPEC[workload]
    if via:
        reset_peak_rss(gw_pid)
    g0 = cpu_ticks(gw_pid)
    u0 = sum(cpu_ticks(p) for p in up_pids)
    perf = None
    if PERF and via and workload == "get":
        Path(PERF).mkdir(parents=True, exist_ok=True)
        perf = subprocess.Popen(
            ["perf", "record", "-F", "1999", "-g", "-p", str(gw_pid), "-o",
             f"{PERF}/perf-{target.upstream.name}-{int(time.time())}.data"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    r = client(cmd, target.endpoint, target.access_key, target.secret_key, args)
    if perf:
        perf.send_signal(2)
        perf.wait()
    r["gw_ticks"] = cpu_ticks(gw_pid) - g0
    r["up_ticks"] = sum(cpu_ticks(p) for p in up_pids) - u0
    r["peak_rss_mib"] = peak_rss_mib(gw_pid)
    if r.get("errors"):
        print(f"  ! {workload} {'via' if via else 'direct'}: {r['errors']} errors", file=sys.stderr)
    return r


def warm_up(workload: str, up) -> None:
    """One untimed run of `workload` against the upstream before the timed ones. Whichever
    target ran first after another workload was slower: against rclone and SeaweedFS the first
    1 GiB GET after a 1 GiB PUT ran at 250–380 MiB/s and the second at 410–1,030 whichever of
    direct and rebucket it was (on disk and on tmpfs alike), so per-round ratios swung between
    0.3 and 1.7 with the order. The small workloads get a tenth of their requests."""
    if QUICK:
        return
    cmd, args, _ = SPEC[workload]
    if cmd == "load":
        args = list(args)
        at = args.index("--requests") + 1
        args[at] = max(int(args[at]) // 10, 100)
    try:
        client(cmd, up.endpoint, up.access_key, up.secret_key, args)
    except ClientFailed as e:
        print(f"  ! warm-up {workload}: {e}", file=sys.stderr)


def per_unit_us(r: dict, ticks_key: str, workload: str) -> float:
    """CPU µs per request (small workloads) or per MiB (large ones)."""
    units = r["requests"] if "requests" in r else r["mib"]
    return r[ticks_key] / TICK * 1e6 / max(units, 1)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def variants() -> list[tuple[str, str, dict]]:
    """(label, binary, extra environment) of each rebucket to measure."""
    spec = os.environ.get("BENCH_VARIANTS", "").strip()
    base_env = dict(kv.split("=", 1) for kv in os.environ.get("BENCH_REBUCKET_ENV", "").split())
    if not spec:
        return [("rebucket", os.environ["REBUCKET_BIN"], base_env)]
    out = []
    for item in filter(None, (x.strip() for x in spec.split(";"))):
        label, rest = item.split("=", 1)
        words = rest.split()
        env = dict(base_env, **dict(kv.split("=", 1) for kv in words[1:]))
        out.append((label, os.path.abspath(words[0]), env))
    return out


failures: list[str] = []


def bench_upstream(name: str, samples: dict) -> None:
    up = make_upstream(name).start()
    gws = []
    try:
        for label, binary, env in variants():
            saved = dict(os.environ)
            os.environ.update({"RUST_LOG": RUST_LOG, "REBUCKET_BIN": binary, **env})
            try:
                # its own name, so each variant gets its own log file and temp dir
                front_of = types.SimpleNamespace(
                    name=f"{up.name}-{label}", endpoint=up.endpoint,
                    access_key=up.access_key, secret_key=up.secret_key)
                gw = Rebucket(front_of, domain=None)
                gws.append((label, gw))
                gw.start()
            finally:
                os.environ.clear()
                os.environ.update(saved)
        up_pids = [p.pid for p in up.procs]
        client("prepare", up.endpoint, up.access_key, up.secret_key, ["--list-keys", LIST_KEYS])
        print(f"# {name}: upstream {up.endpoint}; "
              + ", ".join(f"{label} {gw.endpoint} (pid {gw.proc.pid})" for label, gw in gws),
              file=sys.stderr)
        targets = [("direct", up, None)] + [(label, gw, gw.proc.pid) for label, gw in gws]
        for rnd in range(ROUNDS):
            for wi, w in enumerate(WORKLOADS):
                warm_up(w, up)
                # direct and each variant back to back; the order turns every round
                k = (rnd + wi) % len(targets)
                for label, target, pid in targets[k:] + targets[:k]:
                    via = pid is not None
                    try:
                        r = run_one(w, target, pid or gws[0][1].proc.pid, up_pids, via)
                    except ClientFailed as e:
                        # one failed sample (an upstream error) must not lose the run
                        print(f"  ! round {rnd + 1} {w} {label}: {e}", file=sys.stderr)
                        failures.append(f"{name} {w} {label} round {rnd + 1}")
                        continue
                    r["round"] = rnd
                    samples.setdefault((name, w, label), []).append(r)
                    print(f"  round {rnd + 1} {w:9} {label:10} "
                          f"{r.get('rps', r.get('mibps')):9.1f} {SPEC[w][2]}", file=sys.stderr)
    finally:
        for _, gw in gws:
            gw.stop()
        up.stop()
        # the next upstream's run needs the room (SeaweedFS keeps overwritten objects)
        if up.tmp:
            remove_tmpdir(up.tmp)


def table(name: str, samples: dict, label: str, title: str) -> str:
    rows = [f"**{title}**", "",
            "| workload | direct | via rebucket | via/direct | p99 ms direct / via "
            "| rebucket CPU | upstream CPU (direct) | rebucket peak RSS (1st round / max) |",
            "|---|---|---|---|---|---|---|---|"]
    for w in WORKLOADS:
        d, v = samples.get((name, w, "direct"), []), samples.get((name, w, label), [])
        if not d or not v:
            continue
        unit = SPEC[w][2]
        key = "rps" if unit == "req/s" else "mibps"
        dm, vm = med([r[key] for r in d]), med([r[key] for r in v])
        by_round = {r["round"]: r for r in d}
        ratios = [rv[key] / by_round[rv["round"]][key] for rv in v if rv["round"] in by_round]
        per = "req" if unit == "req/s" else "MiB"
        gw_cpu = med([per_unit_us(r, "gw_ticks", w) for r in v])
        up_cpu = med([per_unit_us(r, "up_ticks", w) for r in d])
        p99 = (f"{med([r['p99_ms'] for r in d]):.1f} / {med([r['p99_ms'] for r in v]):.1f}"
               if "p99_ms" in d[0] else "—")
        # first round (fresh process) / highest: later rounds start with what the allocator
        # kept from the previous round's 256-connection and 1 GiB workloads
        first = min(v, key=lambda r: r["round"])["peak_rss_mib"]
        rss = f"{first:.0f} / {max(r['peak_rss_mib'] for r in v):.0f}"
        spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
        rows.append(f"| {LABEL[w]} | {dm:,.0f} {unit} | {vm:,.0f} {unit} | "
                    f"**{med(ratios):.2f}**{spread} | {p99} | {gw_cpu:,.0f} µs/{per} | "
                    f"{up_cpu:,.0f} µs/{per} | {rss} MiB |")
    return "\n".join(rows)


def main() -> int:
    if not CLIENT:
        raise SystemExit("BENCH_CLIENT is not set: run `cargo bench --bench gateway` or bench/run.sh")
    started = time.time()
    load0 = os.getloadavg()
    samples: dict = {}
    labels = [label for label, _, _ in variants()]
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    print(f"rebucket bench, {datetime.date.today()}, commit {rev}, {os.cpu_count()} cores, "
          f"load average {load0[0]:.1f} at start; medians of {ROUNDS} interleaved rounds "
          f"(via/direct: median of per-round ratios, range in brackets); {REQUESTS} requests "
          f"per small-request round; RUST_LOG={RUST_LOG}; CPU = utime+stime per request "
          f"(per MiB for large objects)", flush=True)
    for name in UPSTREAMS:
        bench_upstream(name, samples)
        # each upstream's tables as soon as it is done
        for label in labels:
            print()
            print(table(name, samples, label, name if len(labels) == 1 else f"{name}, {label}"),
                  flush=True)
    print(f"\n{time.time() - started:.0f} s, load average {os.getloadavg()[0]:.1f} at the end")
    if failures:
        print(f"failed samples (left out): {'; '.join(failures)}")
    if os.environ.get("BENCH_JSON"):
        Path(os.environ["BENCH_JSON"]).write_text(json.dumps(
            [{"upstream": k[0], "workload": k[1], "target": k[2], "samples": v}
             for k, v in samples.items()], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
