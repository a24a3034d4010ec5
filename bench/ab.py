"""A/B of builds: bench.py's load run (idle RSS 1 s after the first 200,
then wrk after a warm-up, a fresh process each) on several binaries in
turn, ROUNDS times, and the mean of each. For build settings (opt-levels,
linker flags, allocator options) whose effect is smaller than the drift
between two scripts/bench runs: the binaries alternate, so drift spreads
over all of them.

    DATABASE_URL=<a seeded database> python3 bench/ab.py [--rounds 4] [--path /api/cities] BINARY...

scripts/bench leaves one seeded (imutis_bench). A binary may be a wrapper
script that execs the server with other settings. The first binary is the
reference for the ratios.
"""

import argparse
import statistics
from pathlib import Path

import bench


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--path", default="/api/cities")
    ap.add_argument("--duration", default="10s")
    ap.add_argument("binaries", nargs="+", type=Path)
    a = ap.parse_args()
    args = argparse.Namespace(
        no_load=False, warmup="2s", wrk_duration=a.duration, wrk_threads=2, wrk_connections=50
    )
    targets = [
        bench.Target(label=f"{i} {b.name}", binary=b.resolve(), method="GET", path=a.path, body=None, token=None)
        for i, b in enumerate(a.binaries, 1)
    ]
    rss: dict[str, list[int]] = {t.label: [] for t in targets}
    for _ in range(a.rounds):
        for t in targets:
            bench.load(t, args)
            rss[t.label].append(t.idle_rss_kib)
    rows = []
    ref = targets[0]
    ref_rps = statistics.fmean(r["rps"] for r in ref.wrk_rounds)
    ref_p99 = statistics.fmean(r["p99_us"] for r in ref.wrk_rounds)
    for t in targets:
        rps = statistics.fmean(r["rps"] for r in t.wrk_rounds)
        p99 = statistics.fmean(r["p99_us"] for r in t.wrk_rounds)
        rows.append(
            [
                t.label,
                f"{t.binary.stat().st_size:,}",
                f"{statistics.fmean(rss[t.label]):,.0f}",
                " / ".join(f"{r['rps']:,.0f}" for r in t.wrk_rounds),
                f"{rps:,.0f}",
                f"{p99 / 1000:.2f}",
                bench.ratio(rps, ref_rps),
                bench.ratio(p99, ref_p99),
            ]
        )
    headers = ["binary", "bytes", "idle RSS KiB", "req/s by round", "req/s", "p99 ms", "req/s x 1", "p99 x 1"]
    print(bench.table(headers, rows))


if __name__ == "__main__":
    main()
