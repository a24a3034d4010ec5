"""A/B of builds: bench.py's load run (idle RSS 1 s after the first 200,
then wrk after a warm-up, a fresh process each) on several binaries in
turn, ROUNDS times, and the mean of each. For build settings (opt-levels,
linker flags, allocator options) whose effect is smaller than the drift
between two scripts/bench runs: the binaries alternate, so drift spreads
over all of them.

    DATABASE_URL=<a seeded database> python3 bench/ab.py [--rounds 4] [--path /api/cities] BINARY...

CPU us/req is the server's own user + system time over the requests it
answered, as scripts/bench reports it: requests/s also moves with what
wrk and Postgres get of the same two cores. scripts/bench leaves one
seeded database (imutis_bench). A binary may be a wrapper script that
execs the server with other settings. The first binary is the reference
for the ratios.
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
    cpu: dict[str, list[float]] = {t.label: [] for t in targets}
    for _ in range(a.rounds):
        for t in targets:
            bench.load(t, args)
            rss[t.label].append(t.idle_rss_kib)
            cpu[t.label].append(t.cpu_us_per_req)
    rows = []
    ref = targets[0]
    ref_rps = statistics.fmean(r["rps"] for r in ref.wrk_rounds)
    ref_p99 = statistics.fmean(r["p99_us"] for r in ref.wrk_rounds)
    ref_cpu = statistics.fmean(cpu[ref.label])
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
                f"{statistics.fmean(cpu[t.label]):.1f}",
                bench.ratio(statistics.fmean(cpu[t.label]), ref_cpu),
            ]
        )
    headers = ["binary", "bytes", "idle RSS KiB", "req/s by round", "req/s", "p99 ms", "req/s x 1", "p99 x 1", "CPU us/req", "CPU x 1"]
    print(bench.table(headers, rows))


if __name__ == "__main__":
    main()
