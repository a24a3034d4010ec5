#!/usr/bin/env python3
"""The measurements of `scripts/bench-edge` (which builds, seeds and starts the
services, then runs this): the whole app on one machine, in two shapes behind
the same generated nginx edge (bench/edge/nginx_conf.py), under the same
Locust mix (bench/edge/mix.py), then scale from zero.

A  every function its own release process on its own port (as each is its
   own Knative Service), DB_MAX_CONNECTIONS=--pool each;
B  the dev server: one process serving every function, --single-pool.

For each shape, Locust steps through --users (each step --step-seconds, a new
Locust run, after a warm-up run) and stops after the first step with p99 >=
100 ms or any failure. Per step: requests/s, p50, p99, failures, CPU seconds
of the app's processes and of nginx per 1,000 requests (utime + stime from
/proc/<pid>/stat, before and after), total RSS (VmRSS) of the app's processes
and of nginx, and the Postgres connections held (pg_stat_activity on the
bench database) at the end of the step.

Scale from zero (bench/edge/activator.py): every function's port is held by
the activator, nginx in front (no upstream keepalive). First request of each
function, one at a time (all at zero before each), then bursts of k functions
started at once (k = 4, 16, 56; the functions in name order, in groups of k;
all at zero before each burst): time from sending the request to the edge to
the whole answer. Then the idle stop: after --idle seconds without requests
every process should be gone.

Writes the Markdown report to --out and prints it.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from activator import Activator  # noqa: E402
from bench import UNLIMITED  # noqa: E402
from nginx_conf import generate, load_manifests, ports  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
P99_LIMIT_MS = 100.0


def log(msg: str) -> None:
    print(f"\033[1;34m==>\033[0m {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ processes


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU time of the whole machine (every CPU, all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:7]) - fields[3] - fields[4]) / CLK_TCK


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int(Path(d, "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def server_env(args, pool: int, prefix: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "SENTRY_", "AWS_LAMBDA_", "GEMINI_", "FCM_", "LISTEN_", "BENCH_", "EDGE_"))
    }
    env.update(
        DATABASE_URL=args.database_url,
        FIREBASE_PROJECT_ID="demo-ai-imutis",
        # Emulator mode, as scripts/dev: the Locust users sign in with unsigned tokens.
        FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:9099",
        TICKET_SIGNING_KEY="bench-only-ticket-key-0123456789abcdef0123",
        **UNLIMITED,
        DB_MAX_CONNECTIONS=str(pool),
        RUST_LOG=os.environ.get("BENCH_RUST_LOG") or "warn",
        REDIS_KEY_PREFIX=f"edge:{os.getpid()}:{prefix}",
    )
    env.setdefault("MIMALLOC_ARENA_EAGER_COMMIT", "0")
    return env


def spawn(cmd: list[str], env: dict | None, log_path: Path) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as f:
        return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=f, stderr=f, start_new_session=True)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_http(port: int, path: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the process for port {port} exited ({proc.returncode}); see its log")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"nothing answered {path} on port {port} within {timeout} s")


class Nginx:
    def __init__(self, conf: str, run_dir: Path, listen: int):
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            # Workers run as nobody when the master is root.
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
            (run_dir / sub).chmod(0o777)
        conf_path = run_dir / "nginx.conf"
        conf_path.write_text(conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = spawn([nginx, "-p", str(run_dir), "-e", str(run_dir / "nginx-error.log"), "-c", str(conf_path)],
                          None, run_dir / "nginx.out")
        wait_http(listen, "/__edge_up", 10, self.proc)

    def pids(self) -> list[int]:
        return [self.proc.pid, *children(self.proc.pid)]

    def close(self) -> None:
        stop([self.proc])


def pg_connections(args) -> int:
    out = subprocess.run(
        ["psql", args.admin_url, "-qtAc",
         f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{args.db_name}' AND pid <> pg_backend_pid()"],
        capture_output=True, text=True, check=False,
    )
    try:
        return int(out.stdout.strip())
    except ValueError:
        return -1


# ------------------------------------------------------------------ load


def locust_step(args, label: str, users: int, seconds: int, csv_prefix: Path) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if args.original:
        env["EDGE_ORIGINAL_LOCUSTFILE"] = args.original
    cmd = [
        args.locust, "-f", str(HERE / "mix.py"), "--headless", "--only-summary",
        "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--stop-timeout", "5",
        "--host", f"http://127.0.0.1:{args.listen}", "--csv", str(csv_prefix),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(csv_prefix.with_suffix(".log"), "w") as out:
        subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    locust_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    stats = {}
    failures_by_name = []
    with open(f"{csv_prefix}_stats.csv") as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated":
                stats = row
            elif int(row["Failure Count"]) > 0:
                failures_by_name.append(f"{row['Type']} {row['Name']}: {row['Failure Count']}")
    return {
        "label": label,
        "users": users,
        "requests": int(stats.get("Request Count", 0)),
        "failures": int(stats.get("Failure Count", 0)),
        "rps": float(stats.get("Requests/s", 0) or 0),
        "p50": float(stats.get("50%", 0) or 0),
        "p99": float(stats.get("99%", 0) or 0),
        "failed": failures_by_name,
        "locust_cpu": locust_cpu,
    }


def load_shape(args, label: str, app_pids, nginx: Nginx, work: Path) -> dict:
    rows = []
    idle_rss = sum(rss_mib(p) for p in app_pids())
    log(f"{label}: warm-up ({args.warmup_seconds} s, {args.users[0]} users)")
    locust_step(args, label, args.users[0], args.warmup_seconds, work / f"{label}-warmup")
    for users in args.users:
        pids, edge = app_pids(), nginx.pids()
        app0, edge0 = sum(cpu_seconds(p) for p in pids), sum(cpu_seconds(p) for p in edge)
        machine0 = machine_busy_seconds()
        row = locust_step(args, label, users, args.step_seconds, work / f"{label}-u{users}")
        pids, edge = app_pids(), nginx.pids()
        app_cpu = sum(cpu_seconds(p) for p in pids) - app0
        edge_cpu = sum(cpu_seconds(p) for p in edge) - edge0
        rest_cpu = machine_busy_seconds() - machine0 - app_cpu - edge_cpu - row["locust_cpu"]
        per_k = 1000 / row["requests"] if row["requests"] else 0
        row.update(
            app_cpu_per_k=app_cpu * per_k,
            edge_cpu_per_k=edge_cpu * per_k,
            locust_cpu_per_k=row["locust_cpu"] * per_k,
            rest_cpu_per_k=rest_cpu * per_k,
            app_rss=sum(rss_mib(p) for p in pids),
            edge_rss=sum(rss_mib(p) for p in edge),
            pg=pg_connections(args),
            ok=row["failures"] == 0 and row["p99"] < P99_LIMIT_MS and row["requests"] > 0,
        )
        rows.append(row)
        log(f"{label}: {users} users: {row['rps']:.0f} req/s, p99 {row['p99']:.0f} ms, "
            f"{row['failures']} failures, app CPU {row['app_cpu_per_k']:.2f} s/1k, RSS {row['app_rss']:.0f} MiB, "
            f"{row['pg']} Postgres connections")
        if not row["ok"]:
            break
    passing = [r for r in rows if r["ok"]]
    return {"label": label, "rows": rows, "best": max(passing, key=lambda r: r["rps"]) if passing else None,
            "idle_rss": idle_rss, "processes": len(app_pids())}


def shape_a(args, functions, work: Path) -> dict:
    backend = ports(functions, args.base_port)
    env = server_env(args, args.pool, "a")
    procs = []
    log(f"shape A: starting {len(functions)} function processes")
    t0 = time.monotonic()
    for f in functions:
        procs.append(spawn([str(args.bin_dir / f["name"])], {**env, "PORT": str(backend[f["name"]])},
                           work / "logs" / f"a-{f['name']}.log"))
    for f, p in zip(functions, procs):
        wait_http(backend[f["name"]], "/healthz", 60, p)
    started = time.monotonic() - t0
    nginx = Nginx(generate(functions, args.listen, backend, str(work / "nginx-a")), work / "nginx-a", args.listen)
    try:
        result = load_shape(args, "A", lambda: [p.pid for p in procs if p.poll() is None], nginx, work)
    finally:
        nginx.close()
        stop(procs)
    result["start_all_s"] = started
    return result


def shape_b(args, functions, work: Path) -> dict:
    env = server_env(args, args.single_pool, "b")
    log("shape B: starting the dev server (one process, every function)")
    t0 = time.monotonic()
    proc = spawn([str(args.bin_dir / "dev-server")], {**env, "PORT": str(args.single_port)}, work / "logs" / "b-dev-server.log")
    wait_http(args.single_port, "/healthz", 60, proc)
    started = time.monotonic() - t0
    backend = {f["name"]: args.single_port for f in functions}
    nginx = Nginx(generate(functions, args.listen, backend, str(work / "nginx-b")), work / "nginx-b", args.listen)
    try:
        result = load_shape(args, "B", lambda: [proc.pid] if proc.poll() is None else [], nginx, work)
    finally:
        nginx.close()
        stop([proc])
    result["start_all_s"] = started
    return result


# ------------------------------------------------------------------ scale from zero


def emulator_token() -> str:
    import base64

    def enc(o):
        return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()

    uid = f"cold-{uuid.uuid4().hex[:12]}"
    now = int(time.time())
    claims = {"iss": "https://securetoken.google.com/demo-ai-imutis", "aud": "demo-ai-imutis", "sub": uid,
              "user_id": uid, "email": f"{uid}@load.invalid", "iat": now, "auth_time": now, "exp": now + 3600}
    return enc({"alg": "none", "typ": "JWT"}) + "." + enc(claims) + "."


# Seeded ids (migrate --seed), so that first requests read real rows.
SEEDED = {"city_id": "douala", "attraction_id": "douala-waterfront", "route_id": "route-yaounde-douala-morning"}


def probe(f: dict) -> tuple[str, str]:
    """The request that wakes a function: its first route, seeded ids in it."""
    import re

    r = f["routes"][0]
    return r["method"], re.sub(r"\{([^}]+)\}", lambda m: SEEDED.get(m.group(1), "sample-1"), r["path"])


def first_request(listen: int, f: dict, token: str) -> tuple[float, int]:
    method, path = probe(f)
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    headers = {"Authorization": f"Bearer {token}", "Connection": "close", "X-Device-ID": "bench-edge-cold"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    t0 = time.perf_counter()
    try:
        c = http.client.HTTPConnection("127.0.0.1", listen, timeout=15)
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        r.read()
        status = r.status
    except OSError:
        status = 0
    return (time.perf_counter() - t0) * 1000, status


def burst(args, act: Activator, group: list[dict], token: str) -> list[tuple[str, float, int]]:
    act.stop_all()
    out: list[tuple[str, float, int]] = []
    barrier = threading.Barrier(len(group))
    lock = threading.Lock()

    def one(f):
        barrier.wait()
        ms, status = first_request(args.listen, f, token)
        with lock:
            out.append((f["name"], ms, status))

    threads = [threading.Thread(target=one, args=(f,)) for f in group]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def scale_from_zero(args, functions, work: Path) -> dict:
    backend = ports(functions, args.base_port)
    env = server_env(args, args.pool, "z")
    act = Activator(backend, args.bin_dir, env, args.idle, work / "logs" / "activator").start()
    nginx = Nginx(generate(functions, args.listen, backend, str(work / "nginx-z"), keepalive=False),
                  work / "nginx-z", args.listen)
    token = emulator_token()
    result: dict = {"bursts": {}, "bad": []}
    try:
        log(f"scale from zero: first request of each of the {len(functions)} functions, one at a time")
        seq, warm = [], []
        for f in functions:
            act.stop_all()
            ms, status = first_request(args.listen, f, token)
            seq.append((f["name"], ms, status))
            warm.append(first_request(args.listen, f, token)[0])
        result["sequential"] = seq
        result["warm_median"] = statistics.median(warm)
        result["bursts"][1] = seq
        for k in (4, 16, 56):
            if k > len(functions):
                continue
            groups = [functions[i : i + k] for i in range(0, len(functions) - k + 1, k)]
            log(f"scale from zero: {len(groups)} burst(s) of {k} functions started at once")
            result["bursts"][k] = [x for g in groups for x in burst(args, act, g, token)]
        for k, xs in result["bursts"].items():
            result["bad"] += [f"k={k} {n}: status {s}" for n, _, s in xs if s == 0 or s in (502, 503, 504)]
        result["pg_all_running"] = pg_connections(args)
        running = len(act.running())
        log(f"scale from zero: idle stop: {running} running; waiting {args.idle:.0f} s without requests")
        t0 = time.monotonic()
        while act.running() and time.monotonic() - t0 < args.idle + 30:
            time.sleep(0.5)
        result["idle"] = {"running_before": running, "running_after": len(act.running()),
                          "seconds": time.monotonic() - t0, "idle_stops": act.idle_stops}
        result["starts"] = sum(act.starts.values())
        result["start_failures"] = sum(act.failures.values())
    finally:
        nginx.close()
        act.close()
    return result


# ------------------------------------------------------------------ report


def stats(xs: list[float]) -> str:
    return f"{statistics.median(xs):.0f} ms / {max(xs):.0f} ms" if xs else "n/a"


def report(args, functions, shapes: list[dict], cold: dict | None) -> str:
    lines = [
        "# The whole app on one machine (scripts/bench-edge)",
        "",
        f"Command: `{args.command}`",
        "",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs; "
        f"{len(functions)} functions, {sum(len(f['routes']) for f in functions)} routes.",
        "",
        *[f"- {n}" for n in args.notes],
        f"- Edge: nginx, its configuration generated from `cargo xtask list --json` (bench/edge/nginx_conf.py; "
        "`--check` resolves every route to its function). Locust (bench/edge/mix.py) on the same machine.",
        f"- A: {len(functions)} processes, `DB_MAX_CONNECTIONS={args.pool}` each (the Knative ConfigMap's value). "
        f"B: the dev server, one process, `DB_MAX_CONNECTIONS={args.single_pool}`. Both behind the same nginx.",
        f"- Steps: Locust users {', '.join(map(str, args.users))}, {args.step_seconds} s each (after a "
        f"{args.warmup_seconds} s warm-up), stopping after the first step with p99 >= {P99_LIMIT_MS:.0f} ms or a failure.",
        "",
        "## Load: A (a process per function) vs B (one process)",
        "",
        "| shape | highest req/s with p99 < 100 ms, 0 failures | p99 there | app CPU s / 1k req | edge CPU s / 1k req "
        "| app RSS (idle → loaded) | edge RSS | Postgres connections held | processes | start all |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in shapes:
        b = s["best"]
        last = s["rows"][-1] if s["rows"] else None
        ref = b or last
        best = f"{b['rps']:.0f} ({b['users']} users)" if b else "none (first step failed)"
        if b and b is s["rows"][-1]:
            best = "≥ " + best + ", the last step"
        if ref:
            lines.append(
                f"| {s['label']} | {best} | {ref['p99']:.0f} ms | {ref['app_cpu_per_k']:.2f} | "
                f"{ref['edge_cpu_per_k']:.2f} | {s['idle_rss']:.0f} → {ref['app_rss']:.0f} MiB | {ref['edge_rss']:.0f} MiB | "
                f"{ref['pg']} | {s['processes']} | {s['start_all_s']:.1f} s |"
            )
    lines += ["", "Every step (CPU seconds per 1,000 requests of: the app's processes, nginx, Locust, and the rest of "
              "the machine: Postgres, Redis and anything else running, a check that nothing else competed):", "",
              "| shape | users | req/s | p50 | p99 | failures | app CPU | edge CPU | Locust CPU | rest CPU "
              "| app RSS | Postgres conns |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in shapes:
        for r in s["rows"]:
            lines.append(
                f"| {s['label']} | {r['users']} | {r['rps']:.0f} | {r['p50']:.0f} ms | {r['p99']:.0f} ms | "
                f"{r['failures']} | {r['app_cpu_per_k']:.2f} | {r['edge_cpu_per_k']:.2f} | {r['locust_cpu_per_k']:.2f} | "
                f"{r['rest_cpu_per_k']:.2f} | {r['app_rss']:.0f} MiB | {r['pg']} |"
            )
    fails = [f"{s['label']} {r['users']} users: {'; '.join(r['failed'][:8])}" for s in shapes for r in s["rows"] if r["failed"]]
    if fails:
        lines += ["", "Failed requests by name:", "", *[f"- {x}" for x in fails]]
    if cold:
        seq = cold["sequential"]
        slowest = sorted(seq, key=lambda x: -x[1])[:5]
        lines += [
            "",
            "## Scale from zero (A's processes behind an activator)",
            "",
            "Each function's first request through the edge while its process is stopped: the activator holds its "
            "listening socket, the kernel queues the connection, the process starts with that socket (LISTEN_FDS) and "
            f"answers. A warm request afterwards: median {cold['warm_median']:.1f} ms.",
            "",
            "| functions starting at once (k) | first requests | median | worst |",
            "|---|---|---|---|",
        ]
        for k, xs in sorted(cold["bursts"].items()):
            ms = [m for _, m, _ in xs]
            what = "1 (one at a time)" if k == 1 else str(k)
            lines.append(f"| {what} | {len(ms)} | {statistics.median(ms):.0f} ms | {max(ms):.0f} ms |")
        lines += [
            "",
            f"Slowest first requests one at a time: {', '.join(f'{n} {m:.0f} ms' for n, m, _ in slowest)}.",
            f"Statuses of the first requests (one at a time): "
            + ", ".join(f"{s}: {sum(1 for _, _, x in seq if x == s)}" for s in sorted({x for _, _, x in seq})),
            f"Processes started: {cold['starts']} ({cold['start_failures']} failed to start). Idle stop: {cold['idle']['running_before']} running, "
            f"{cold['idle']['running_after']} left {cold['idle']['seconds']:.0f} s later "
            f"(idle period {args.idle:.0f} s, {cold['idle']['idle_stops']} stopped for idleness: the activator reads "
            "each process's /metrics every second and stops it once its answered requests and open WebSockets have "
            "not changed for the idle period). Postgres connections held with all 56 just started: "
            f"{cold['pg_all_running']}.",
        ]
        if cold["bad"]:
            lines += ["", "Requests the edge could not hold (502/503/504 or no answer): " + "; ".join(cold["bad"][:20])]
        lines += ["", "Per function, one at a time (ms, status):", "",
                  ", ".join(f"{n} {m:.0f} ({s})" for n, m, s in seq)]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifests", required=True)
    ap.add_argument("--bin-dir", required=True, type=Path)
    ap.add_argument("--database-url", required=True, help="the seeded bench database")
    ap.add_argument("--admin-url", required=True, help="a database of the same server, for pg_stat_activity")
    ap.add_argument("--db-name", required=True)
    ap.add_argument("--locust", required=True)
    ap.add_argument("--original", default="", help="the original backend's locustfile.py (empty: the app's mix only)")
    ap.add_argument("--users", default="10,20,40,80,120,160")
    ap.add_argument("--step-seconds", type=int, default=20)
    ap.add_argument("--warmup-seconds", type=int, default=8)
    ap.add_argument("--listen", type=int, default=8090)
    ap.add_argument("--base-port", type=int, default=9100)
    ap.add_argument("--single-port", type=int, default=9099)
    ap.add_argument("--pool", type=int, default=5)
    ap.add_argument("--single-pool", type=int, default=10)
    ap.add_argument("--idle", type=float, default=20.0)
    ap.add_argument("--shapes", default="A,B,zero", help="any of A, B, zero")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--command", default="scripts/bench-edge")
    ap.add_argument("--notes", action="append", default=[])
    args = ap.parse_args()
    # SIGTERM (Ctrl-C too) unwinds, so every started process and nginx stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.users = [int(u) for u in args.users.split(",") if u.strip()]
    functions = load_manifests(args.manifests)
    missing = [f["name"] for f in functions if not (args.bin_dir / f["name"]).exists()]
    if missing or not (args.bin_dir / "dev-server").exists():
        sys.exit(f"missing binaries in {args.bin_dir}: {', '.join(missing) or 'dev-server'}")
    args.work.mkdir(parents=True, exist_ok=True)
    chosen = {s.strip() for s in args.shapes.split(",")}
    shapes = []
    if "A" in chosen:
        shapes.append(shape_a(args, functions, args.work))
    if "B" in chosen:
        shapes.append(shape_b(args, functions, args.work))
    cold = scale_from_zero(args, functions, args.work) if "zero" in chosen else None
    text = report(args, functions, shapes, cold)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    (args.work / "results.json").write_text(json.dumps({"shapes": shapes, "cold": cold}, indent=1, default=str))
    print(text)


if __name__ == "__main__":
    main()
