#!/usr/bin/env python3
"""CPU profiles of functions under the benchmark's load (scripts/bench with
BENCH_PROFILE=1 builds the binaries with symbols and calls this).

For each target: start the binary as bench.py does, warm it up, then sample it
with `perf record` (software clock, DWARF call graphs) while wrk loads it.
Reports, per target:

- where the samples land (their leaf frame), grouped into the parts of the
  platform that the issue asks about: kernel (network round trips, wake-ups),
  allocator, logging and tracing, metrics, rate limiting, authentication and
  sessions, Postgres driver, HTTP server, JSON, async runtime, other;
- the share of samples under each layer of the request path (inclusive);
- the 25 hottest functions (self).

Writes Markdown to --out and the raw `perf report` to target/bench/logs.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import bench

# Leaf-frame categories, first match wins (substring of the demangled symbol,
# or of the DSO for the kernel).
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("kernel (syscalls, network, scheduling)", ("[kernel", "entry_SYSCALL", "__x64_sys", "syscall")),
    ("allocator (mimalloc, malloc/free)", ("mi_", "_mi_", "malloc", "free", "realloc", "calloc", "__rust_alloc", "__rust_dealloc", "__rdl_")),
    ("logging and tracing", ("tracing", "sentry", "opentelemetry", "Span", "span")),
    ("metrics (prometheus)", ("prometheus",)),
    ("rate limiting", ("local_limit", "rate_limit", "LocalLimiter")),
    ("auth and sessions", ("auth::", "sessions::", "jsonwebtoken", "rsa::", "num_bigint", "users::KnownUsers")),
    ("redis", ("redis::", "deadpool")),
    ("postgres driver (sqlx)", ("sqlx",)),
    ("JSON (serde_json)", ("serde_json", "serde::")),
    ("HTTP (hyper, http, axum, tower)", ("hyper", "http::", "axum", "tower", "httparse", "h2::")),
    ("async runtime (tokio)", ("tokio",)),
    ("memory copies and hashing", ("memcpy", "memmove", "memset", "memcmp", "hash", "Hasher", "sip")),
]

# Inclusive: a sample counts for every layer whose frame is on its stack.
LAYERS: list[tuple[str, str]] = [
    ("shared::middleware::observe (ids, metrics, headers, logs)", "shared::middleware::observe"),
    ("shared::middleware::admit (auth, limits, sessions)", "shared::middleware::admit"),
    ("  token verification", "shared::auth::"),
    ("  device session check (Redis)", "shared::sessions::"),
    ("  rate limiting", "shared::rate_limit"),
    ("  local limiter", "shared::local_limit"),
    ("tracing spans and events", "tracing_subscriber"),
    ("prometheus", "prometheus::"),
    ("sqlx", "sqlx_"),
    ("hyper", "hyper::"),
    ("the handler's JSON", "serde_json::"),
]


def perf_record(pid: int, seconds: float, out: Path, freq: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            "perf", "record", "-e", "cpu-clock", "-F", str(freq), "--call-graph", "dwarf,16384",
            "-p", str(pid), "-o", str(out), "--", "sleep", str(seconds),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stacks(data: Path) -> list[list[tuple[str, str]]]:
    """Each sample as [(symbol, dso)], leaf first."""
    out = subprocess.run(
        ["perf", "script", "-i", str(data), "-F", "ip,sym,dso", "--no-inline"],
        capture_output=True, text=True, check=True,
    ).stdout
    samples, cur = [], []
    for line in out.splitlines():
        line = line.strip()
        if not line:
            if cur:
                samples.append(cur)
            cur = []
            continue
        parts = line.split(None, 1)
        rest = parts[1] if len(parts) > 1 else ""
        sym, _, dso = rest.rpartition(" (")
        cur.append((sym or rest, dso.rstrip(")")))
    if cur:
        samples.append(cur)
    return samples


def category(sym: str, dso: str) -> str:
    if "kernel" in dso or sym.startswith("[unknown]") and "kernel" in dso:
        return CATEGORIES[0][0]
    for name, needles in CATEGORIES[1:]:
        if any(n in sym for n in needles):
            return name
    if "libc" in dso:
        return "libc (other)"
    return "other"


def pct(n: int, total: int) -> str:
    return f"{100.0 * n / max(total, 1):.1f}%"


def profile(t: bench.Target, args: argparse.Namespace, logs: Path) -> str:
    port = bench.free_port()
    proc = bench.spawn(t.binary, bench.server_env(port, t.env), "profile-" + bench.slug(t.label))
    data = logs / f"perf-{bench.slug(t.label)}.data"
    try:
        bench.until_200(proc, port, t, time.perf_counter())
        bench.wrk(t, port, args.warmup, args)
        seconds = float(args.wrk_duration.rstrip("s"))
        rec = perf_record(proc.pid, seconds, data, args.freq)
        result = bench.wrk(t, port, args.wrk_duration, args)
        _, err = rec.communicate()
        if rec.returncode != 0:
            sys.exit(f"perf record failed: {err}")
    finally:
        bench.stop(proc)

    samples = stacks(data)
    total = len(samples)
    leaf = collections.Counter(category(*s[0]) for s in samples if s)
    layers = collections.Counter()
    for s in samples:
        syms = " | ".join(sym for sym, _ in s)
        for name, needle in LAYERS:
            if needle in syms:
                layers[name] += 1
    report = subprocess.run(
        ["perf", "report", "-i", str(data), "--no-children", "--sort", "symbol", "--stdio",
         "-g", "none", "--percent-limit", "0.3"],
        capture_output=True, text=True,
    ).stdout
    (logs / f"perf-{bench.slug(t.label)}.txt").write_text(report)
    top = [
        re.sub(r"\s+", " ", re.sub(r"[\s-]+$", "", line)).strip()
        for line in report.splitlines()
        if line.strip() and not line.startswith("#") and "%" in line
    ][:25]

    lines = [
        f"### {t.label}: {t.route}",
        "",
        f"wrk -t{args.wrk_threads} -c{args.wrk_connections} -d{args.wrk_duration}: "
        f"{result['rps']:.0f} req/s, p99 {result['p99_us'] / 1000:.2f} ms (under perf, so slower than unprofiled); "
        f"{total} samples at {args.freq} Hz; RUST_LOG={os.environ.get('BENCH_RUST_LOG') or 'warn'}.",
        "",
        "Where the samples land (leaf frame):",
        "",
        "| part | samples |",
        "|---|---:|",
        *[f"| {name} | {pct(n, total)} |" for name, n in leaf.most_common()],
        "",
        "Under each layer (inclusive; a sample counts for every layer on its stack):",
        "",
        "| layer | samples |",
        "|---|---:|",
        *[f"| {name} | {pct(layers[name], total)} |" for name, _ in LAYERS],
        "",
        "Hottest functions (self):",
        "",
        "```",
        *top,
        "```",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", type=Path, required=True)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--wrk-connections", type=int, default=50)
    ap.add_argument("--wrk-duration", default="10s")
    ap.add_argument("--warmup", default="2s")
    ap.add_argument("--freq", type=int, default=499)
    ap.add_argument("--baseline", type=Path, help="the bare baseline's binary, profiled first")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--command", default="")
    ap.add_argument("functions", nargs="+")
    args = ap.parse_args()
    logs = Path(os.environ.get("BENCH_OUT_DIR", bench.ROOT / "target" / "bench")) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    departure = bench.departure_id()
    sections = [f"# CPU profiles\n\nCommand: `{args.command}`\n"]
    targets = [bench.function_target(spec, args.bin_dir, departure) for spec in args.functions]
    if args.baseline:
        base = bench.baselines(args.baseline)
        if any(t.baseline_label == "baseline cities rs256" for t in targets):
            targets.insert(0, base["baseline cities rs256"])
        targets.insert(0, base["baseline cities"])
    for t in targets:
        bench.log(f"profiling {t.label}")
        sections.append(profile(t, args, logs))
    text = "\n".join(sections)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
