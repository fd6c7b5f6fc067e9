#!/usr/bin/env python3
"""Sums a flat perf profile of rebucket by layer.

    perf report -i FILE --no-children --sort dso,symbol --stdio 2>/dev/null | bench/perf-layers.py

Each sample line of `perf report --stdio` is `PCT  DSO  [.] SYMBOL`; the symbol (demangled
Rust path, libc or kernel name) decides the layer by the first pattern below that matches.
Generic code is attributed to the crate that defines it, whichever crate it was inlined into.
"""
import re
import sys
from collections import defaultdict

LAYERS = [
    ("kernel (syscalls, TCP loopback, scheduler)", r"\[kernel|\[k\]"),
    ("allocation (malloc/free/realloc, mimalloc)", r"malloc|free|realloc|calloc|cfree|_int_|unlink_chunk|mi_|_mi_|tcache|arena|alloc::alloc|__rust_alloc|__rust_dealloc|__rdl_|__rust_realloc"),
    ("memcpy/memmove/memset/strlen (libc)", r"mem(cpy|move|set|cmp|chr)|strlen|__memcpy|__memmove"),
    ("SigV4 / hashing (aws-sigv4, sha2, hmac, hex)", r"aws_sigv4|sha2|hmac|Sha256|sha256|\bhex::|ring::|aws_lc|md5|crc"),
    ("s3s (front: auth, routing, DTO parse/serialize)", r"\bs3s(_aws)?::|quick_xml|s3s_fs"),
    ("aws-sdk-s3 / smithy orchestrator", r"aws_sdk_s3|aws_smithy|aws_runtime|aws_types|aws_credential_types|aws_config"),
    ("tracing / logging", r"tracing|sharded_slab|nu_ansi|fmt::Write|core::fmt|alloc::fmt|Formatter|Display"),
    ("hyper / h1 protocol", r"hyper|h2::|want::"),
    ("http types (HeaderMap, Uri, header parsing)", r"\bhttp::|httparse|HeaderMap|HeaderName|HeaderValue"),
    ("tokio runtime / futures", r"tokio|futures|mio::|parking_lot|std::sys::sync|__lll_|pthread|futex|epoll|syscall"),
    ("rebucket (gateway, front)", r"rebucket"),
    ("std/core other (String, Vec, hash maps, str)", r"core::|alloc::|std::|hashbrown|smallvec|bytes::|indexmap"),
]


def layer_of(dso: str, sym: str) -> str:
    text = f"{dso} {sym}"
    for name, pat in LAYERS:
        if re.search(pat, text):
            return name
    return "other"


def main():
    totals = defaultdict(float)
    tops = defaultdict(list)
    line_re = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$")
    for line in sys.stdin:
        m = line_re.match(line)
        if not m:
            continue
        pct, dso, kind, sym = float(m[1]), m[2], m[3], m[4].strip()
        if kind == "k":
            dso = "[kernel]"
        name = layer_of(dso, sym)
        totals[name] += pct
        tops[name].append((pct, sym[:110]))
    for name, pct in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{pct:6.1f}%  {name}")
        for p, s in sorted(tops[name], reverse=True)[:4]:
            print(f"           {p:5.2f}%  {s}")


if __name__ == "__main__":
    main()
