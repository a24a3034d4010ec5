#!/usr/bin/env python3
"""Two builds of the same functions side by side: stripped size, cold start
(process start to the first 200 on the function's route; median and p95 of N
runs, alternating between the builds so machine noise falls on both alike)
and idle RSS (1 s after the first 200).

    bench/compare.py --before DIR --after DIR [--runs 20] FUNCTION...

DIR holds the functions' binaries (e.g. two release builds of two commits).
The servers read DATABASE_URL (a migrated, seeded database) and REDIS_URL;
tokens are the Firebase emulator's unsigned ones, so an authenticated route
is measured without RS256 (scripts/bench covers that). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "demo-ai-imutis"


def b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def emulator_token(uid: str = "bench-user") -> str:
    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT}", "aud": PROJECT, "sub": uid,
        "iat": now, "auth_time": now, "exp": now + 3600,
    }
    return f"{b64({'alg': 'none'})}.{b64(claims)}."


def route(function: str) -> tuple[str, bool]:
    """The function's first GET route (placeholders are not supported) and
    whether it needs a token."""
    defaults = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["metadata"]["function"]
    manifest = tomllib.loads((ROOT / "functions" / function / "Cargo.toml").read_text())
    meta = defaults | manifest["package"]["metadata"]["function"]
    path = next(r.split(" ", 1)[1] for r in meta["routes"] if r.startswith("GET "))
    return path, meta.get("auth") == "required"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cold_start(binary: Path, path: str, auth: bool) -> tuple[float, int]:
    port = free_port()
    env = dict(os.environ, PORT=str(port), RUST_LOG="warn", FIREBASE_PROJECT_ID=PROJECT,
               FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:9099", REDIS_KEY_PREFIX=f"cmp:{port}",
               # Hundreds of starts from one address must not meet the limits.
               RATE_LIMIT_ANONYMOUS="100000", RATE_LIMIT_AUTHENTICATED="100000",
               FLOOD_LIMIT="100000", AUTH_FAILURE_LIMIT="100000")
    headers = {"Authorization": f"Bearer {emulator_token()}", "X-Device-ID": "bench"} if auth else {}
    last = None
    started = time.perf_counter()
    proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
                with urllib.request.urlopen(req, timeout=5) as r:
                    if r.status == 200:
                        elapsed = time.perf_counter() - started
                        break
            except urllib.error.HTTPError as e:
                last = f"{e} {e.read()[:200]!r}"
            except OSError as e:
                last = e
            if time.perf_counter() - started > 10:
                raise RuntimeError(f"{binary} gave no 200 on {path} within 10 s: {last}")
            time.sleep(0.0005)
        time.sleep(1)
        return elapsed, rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", type=Path, required=True)
    ap.add_argument("--after", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("functions", nargs="+")
    args = ap.parse_args()
    rows = ["| function | build | size MiB | cold start median ms | p95 ms | idle RSS MiB |",
            "|---|---|---:|---:|---:|---:|"]
    for function in args.functions:
        path, auth = route(function)
        runs: dict[str, list[tuple[float, int]]] = {"before": [], "after": []}
        for _ in range(args.runs):
            for build in ("before", "after"):
                runs[build].append(cold_start(getattr(args, build) / function, path, auth))
        for build in ("before", "after"):
            binary = getattr(args, build) / function
            times = sorted(t for t, _ in runs[build])
            p95 = times[min(len(times) - 1, int(0.95 * len(times) + 0.5) - 1)]
            rss = statistics.median(r for _, r in runs[build])
            rows.append(f"| {function} | {build} | {binary.stat().st_size / 2**20:.2f} | "
                        f"{statistics.median(times) * 1000:.1f} | {p95 * 1000:.1f} | {rss / 1024:.1f} |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
