#!/usr/bin/env python3
"""The measuring half of scripts/bench (which builds the binaries, seeds the
bench database and installs wrk first). For each chosen function's release
binary and for the bare axum + sqlx baseline (bench/baseline):

- stripped binary size;
- cold start: process start to the first 200 on its own route, N times,
  round-robin over the binaries so that noise on a shared machine spreads
  evenly; median and p95 (nearest rank);
- idle RSS (1 s after the first 200), RSS under load (highest VmRSS sampled
  every 50 ms during the wrk run) and the server's CPU time per request;
- load: wrk -t2 -c50 -d10s --latency after a short warm-up; requests/s, p99,
  and the count of non-2xx/3xx answers and socket errors;
- ratios of every figure to the baseline serving the same query (cities-list
  and travels-list) or the baseline's cities query (the others); an
  authenticated target (a real RS256 ID token, signed with a local key whose
  JWK set is served on 127.0.0.1) to the baseline's twin that verifies the
  same token with jsonwebtoken on every request;
- the musl build (as shipped), every target again: size, cold start, idle RSS
  and load, when it was built;
- Lambda mode for one function: start to the first invocation response through
  cargo-lambda's runtime emulator (`cargo lambda watch --only-lambda-apis`),
  or through bench/lambda_emulator.py when cargo-lambda is missing.

Prints plain tables and writes them to --out (Markdown) with the command line.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import datetime as dt
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PROJECT = "demo-ai-imutis"
HIGH = "100000000"
# Rate limits out of the way: the benchmarks measure the request path, not
# the limiter's refusals (bench/edge/run.py uses them too).
UNLIMITED = {
    name: HIGH
    for name in (
        "RATE_LIMIT_ANONYMOUS",
        "RATE_LIMIT_AUTHENTICATED",
        "RATE_LIMIT_PREMIUM",
        "RATE_LIMIT_AI",
        "RATE_LIMIT_BOOKING",
        "FLOOD_LIMIT",
        "AUTH_FAILURE_LIMIT",
    )
}

# What the benchmark sends to each function: (method, path, JSON body). Path
# placeholders {departure_id} are filled from the seeded database. Functions
# not listed here are measured on their manifest's first route when it is a GET
# (placeholders filled from PLACEHOLDERS); a POST needs an entry here.
REQUESTS: dict[str, tuple[str, str, dict | None]] = {
    "root": ("GET", "/", None),
    "health": ("GET", "/api/health", None),
    "cities-list": ("GET", "/api/cities", None),
    "travels-list": ("GET", "/api/travels", None),
    "attractions-get": ("GET", "/api/attractions/douala-waterfront", None),
    "city-attractions": ("GET", "/api/cities/douala/attractions", None),
    "travels-get": ("GET", "/api/travels/{departure_id}", None),
    "travels-search": (
        "POST",
        "/api/travels/search",
        {"origin": "yaoundé", "destination": "douala", "passengers": 1},
    ),
    "travels-estimate": (
        "POST",
        "/api/travels/estimate",
        {"route_id": "route-yaounde-douala-morning", "passengers": 1},
    ),
    "attractions-search": ("POST", "/api/attractions/search", {"query": "museum"}),
    "attractions-nearby": (
        "GET",
        "/api/attractions/nearby?latitude=4.05&longitude=9.7&radius_km=10",
        None,
    ),
    "ai-estimate-departure": (
        "POST",
        "/api/ai/estimate-departure",
        {"route_id": "route-yaounde-douala-morning"},
    ),
    "ai-recommend-attractions": (
        "POST",
        "/api/ai/recommend-attractions",
        {"city_id": "douala", "interests": ["museum", "history"], "max_results": 5},
    ),
    "ai-analyze-travel-pattern": (
        "POST",
        "/api/ai/analyze-travel-pattern",
        {"route_id": "route-yaounde-douala-morning", "recent_trips": 10},
    ),
}
PLACEHOLDERS = {
    "city_id": "douala",
    "attraction_id": "douala-waterfront",
    "route_id": "route-yaounde-douala-morning",
}


def log(msg: str) -> None:
    print(f"\033[1;34m==>\033[0m {msg}", file=sys.stderr, flush=True)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SigningKeys:
    """Google's securetoken keys, played locally: a 2048-bit RSA key made with
    openssl, its JWK set served on 127.0.0.1 (every server's FIREBASE_JWKS_URL,
    with Google's Cache-Control), and RS256 ID tokens signed with it."""

    KID = "bench-key-1"

    def __init__(self) -> None:
        directory = tempfile.mkdtemp(prefix="bench-jwks-")
        atexit.register(shutil.rmtree, directory, True)
        self.pem = Path(directory) / "key.pem"
        subprocess.run(
            ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-pkeyopt", "rsa_keygen_pubexp:65537", "-out", str(self.pem)],
            check=True, capture_output=True,
        )
        modulus = subprocess.run(
            ["openssl", "rsa", "-in", str(self.pem), "-noout", "-modulus"],
            check=True, capture_output=True, text=True,
        ).stdout.strip().removeprefix("Modulus=")
        self.jwk = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.KID,
                    "n": b64url(bytes.fromhex(modulus)), "e": "AQAB"}
        body = json.dumps({"keys": [self.jwk]}).encode()

        class Jwks(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=21600, must-revalidate, no-transform")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/jwks"

    def sign(self, claims: dict) -> str:
        signing_input = (
            b64url(json.dumps({"alg": "RS256", "kid": self.KID, "typ": "JWT"}).encode())
            + "."
            + b64url(json.dumps(claims).encode())
        )
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.pem)],
            input=signing_input.encode(), check=True, capture_output=True,
        ).stdout
        return signing_input + "." + b64url(signature)


_keys: SigningKeys | None = None


def signing_keys() -> SigningKeys:
    """The run's keys, made (and their JWK set served) on first use."""
    global _keys
    if _keys is None:
        _keys = SigningKeys()
    return _keys


def firebase_claims(uid: str) -> dict:
    """An ID token's claims for `uid` in the bench project. They live 6 h
    (Google's live 1 h) so that a long run does not outlive them."""
    now = int(time.time())
    return {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": PROJECT,
        "sub": uid,
        "user_id": uid,
        "email": f"{uid}@bench.invalid",
        "iat": now,
        "auth_time": now,
        "exp": now + 6 * 3600,
        "firebase": {"sign_in_provider": "password"},
    }


def id_token(uid: str = "bench-user") -> str:
    """A Firebase ID token, RS256 as Google signs them."""
    return signing_keys().sign(firebase_claims(uid))


def emulator_token(uid: str = "bench-user") -> str:
    """An ID token as the Firebase Auth emulator issues it: the same claims,
    unsigned (`alg: none`, an empty signature)."""
    part = lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(firebase_claims(uid))}."


def manifest(function: str) -> dict:
    path = ROOT / "functions" / function / "Cargo.toml"
    if not path.exists():
        sys.exit(f"unknown function {function!r}: no {path.relative_to(ROOT)}")
    with open(path, "rb") as f:
        meta = tomllib.load(f).get("package", {}).get("metadata", {}).get("function")
    if not meta:
        sys.exit(f"{function}: no [package.metadata.function] in its Cargo.toml")
    return meta


def departure_id() -> str:
    out = subprocess.run(
        [
            "psql",
            os.environ["DATABASE_URL"],
            "-qtAc",
            "SELECT id FROM travel_routes WHERE departure_time > now() + interval '1 hour'"
            " AND cancelled_at IS NULL ORDER BY departure_time, id LIMIT 1",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not out:
        sys.exit("the bench database has no coming departure: was it seeded?")
    return out


@dataclass
class Target:
    """One binary answering one request."""

    label: str
    binary: Path
    method: str
    path: str
    body: bytes | None
    token: str | None
    baseline_label: str = ""
    # Settings of this target's server beyond server_env's.
    env: dict = field(default_factory=dict)
    cold: list[float] = field(default_factory=list)
    idle_rss_kib: int = 0
    load_rss_kib: int = 0
    cpu_us_per_req: float = 0.0
    wrk: dict = field(default_factory=dict)
    wrk_rounds: list[dict] = field(default_factory=list)
    # Per load round, merged by merge_rounds.
    cpu_rounds: list[float] = field(default_factory=list)
    idle_rss_rounds: list[int] = field(default_factory=list)

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"

    def headers(self) -> dict[str, str]:
        h = {}
        if self.body is not None:
            h["Content-Type"] = "application/json"
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
            h["X-Device-ID"] = "bench-device"
            h["X-Device-Type"] = "android"
            h["X-Device-OS"] = "Android 14"
            h["X-App-Version"] = "1.0.0"
        return h


def function_target(spec: str, bin_dir: Path, departure: str) -> Target:
    function, _, variant = spec.partition("@")
    if variant not in ("", "auth", "auth-uncached", "emulator"):
        sys.exit(
            f"{spec}: the variants are @auth (requests carry an RS256 ID token), @auth-uncached "
            "(the same, with the verified-token cache off: AUTH_TOKEN_CACHE_ENTRIES=0) and @emulator "
            "(an unsigned token, as the Firebase Auth emulator issues, with FIREBASE_AUTH_EMULATOR_HOST set)"
        )
    meta = manifest(function)
    if function in REQUESTS:
        method, path, body = REQUESTS[function]
    else:
        method, _, path = meta["routes"][0].partition(" ")
        body = None
        if method != "GET":
            sys.exit(f"{function}: {method} needs a request body: add it to REQUESTS in bench/bench.py")
        for k, v in PLACEHOLDERS.items():
            path = path.replace("{" + k + "}", v)
    path = path.replace("{departure_id}", departure)
    if "{" in path:
        sys.exit(f"{function}: no value for a placeholder in {path}: add it to PLACEHOLDERS in bench/bench.py")
    auth = variant != "" or meta.get("auth") == "required"
    binary = bin_dir / function
    if not binary.exists():
        sys.exit(f"{binary} is missing: was it built?")
    if function == "travels-list":
        baseline = "baseline travels"
    else:
        baseline = "baseline cities rs256" if auth else "baseline cities"
    return Target(
        label=spec,
        binary=binary,
        method=method,
        path=path,
        body=json.dumps(body).encode() if body is not None else None,
        token=(emulator_token() if variant == "emulator" else id_token()) if auth else None,
        baseline_label=baseline,
        env={
            "auth-uncached": {"AUTH_TOKEN_CACHE_ENTRIES": "0"},
            # Never contacted: in emulator mode unsigned tokens are only decoded.
            "emulator": {"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"},
        }.get(variant, {}),
    )


def baselines(binary: Path) -> dict[str, Target]:
    """The baseline's targets: its cities and travels queries, and the cities
    query behind jsonwebtoken's RS256 check of an ID token on every request."""
    base = {
        "baseline cities": Target("baseline cities", binary, "GET", "/api/cities", None, None),
        "baseline travels": Target("baseline travels", binary, "GET", "/api/travels", None, None),
        "baseline cities rs256": Target(
            "baseline cities rs256", binary, "GET", "/api/verified/cities", None, id_token()
        ),
    }
    for t in base.values():
        t.baseline_label = t.label
    return base


# ---------------------------------------------------------------- processes

_instance = 0


def slug(label: str) -> str:
    """A file name for a label: `cities-list@auth` -> `cities-list-auth`."""
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def server_env(port: int, extra: dict | None = None) -> dict[str, str]:
    global _instance
    _instance += 1
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "SENTRY_", "AWS_LAMBDA_", "GEMINI_", "FCM_", "FIREBASE_", "AUTH_TOKEN_"))
    }
    keys = signing_keys()
    env.update(
        PORT=str(port),
        FIREBASE_PROJECT_ID=PROJECT,
        # Production mode: RS256 tokens only, the keys fetched as from Google.
        FIREBASE_JWKS_URL=keys.url,
        # The baseline's twin verifies with this key, read at start-up.
        BASELINE_JWK=json.dumps(keys.jwk),
        **UNLIMITED,
        # warn: no access log line per request (the image's default is info;
        # BENCH_RUST_LOG=info measures that).
        RUST_LOG=os.environ.get("BENCH_RUST_LOG") or "warn",
        REDIS_KEY_PREFIX=f"bench:{os.getpid()}:{_instance}",
        TICKET_SIGNING_KEY="bench-only-ticket-key-0123456789abcdef0123",
    )
    # As the shipped image runs them (Dockerfile ENV), unless set here.
    env.setdefault("MIMALLOC_ARENA_EAGER_COMMIT", "0")
    env.update(extra or {})
    return env


def spawn(binary: Path, env: dict, log_name: str) -> subprocess.Popen:
    logs = Path(os.environ.get("BENCH_OUT_DIR", ROOT / "target" / "bench")) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out = open(logs / f"{log_name}.log", "ab")
    return subprocess.Popen([str(binary)], env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def request(port: int, t: Target, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(t.method, t.path, body=t.body, headers=t.headers())
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def until_200(proc: subprocess.Popen, port: int, t: Target, start: float, limit: float = 30.0) -> float:
    """Seconds from `start` to the first 200 on the target's route."""
    last = None
    while True:
        try:
            status, body = request(port, t)
            if status == 200:
                return time.perf_counter() - start
            last = f"{status} {body[:200]!r}"
        except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
            pass
        if proc.poll() is not None:
            sys.exit(f"{t.label} exited with {proc.returncode} before a 200 (see target/bench/logs/)")
        if time.perf_counter() - start > limit:
            stop(proc)
            sys.exit(f"{t.label}: no 200 on {t.route} within {limit:.0f} s (last answer: {last})")
        time.sleep(0.0005)


def status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- measurements


def cold_start_once(t: Target) -> float:
    port = free_port()
    env = server_env(port, t.env)
    start = time.perf_counter()
    proc = spawn(t.binary, env, slug(t.label))
    try:
        return until_200(proc, port, t, start)
    finally:
        stop(proc)


def cold_starts(targets: list[Target], runs: int) -> None:
    for i in range(runs):
        for t in targets:
            t.cold.append(cold_start_once(t))
        log(f"cold start: round {i + 1}/{runs} done")


def wrk(t: Target, port: int, duration: str, args: argparse.Namespace) -> dict:
    env = dict(
        os.environ,
        BENCH_METHOD=t.method,
        BENCH_BODY=t.body.decode() if t.body else "",
        BENCH_AUTH=t.token or "",
    )
    cmd = [
        "wrk",
        f"-t{args.wrk_threads}",
        f"-c{args.wrk_connections}",
        f"-d{duration}",
        "--latency",
        "-s",
        str(BENCH / "request.lua"),
        f"http://127.0.0.1:{port}{t.path}",
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("BENCH_JSON "):
            result = json.loads(line[len("BENCH_JSON ") :])
            logs = Path(os.environ.get("BENCH_OUT_DIR", ROOT / "target" / "bench")) / "logs"
            with open(logs / f"wrk-{slug(t.label)}.txt", "a") as f:
                f.write(" ".join(cmd) + "\n" + out + "\n")
            return result
    sys.exit(f"wrk printed no result for {t.label}:\n{out}")


def load(t: Target, args: argparse.Namespace) -> None:
    port = free_port()
    proc = spawn(t.binary, server_env(port, t.env), slug(t.label))
    try:
        until_200(proc, port, t, time.perf_counter())
        time.sleep(1.0)
        t.idle_rss_kib = status_kib(proc.pid, "VmRSS")
        t.idle_rss_rounds.append(t.idle_rss_kib)
        if args.no_load:
            return
        if args.warmup not in ("", "0", "0s"):
            wrk(t, port, args.warmup, args)
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], status_kib(proc.pid, "VmRSS"))
                except OSError:
                    return
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        cpu0 = cpu_seconds(proc.pid)
        sampler.start()
        result = wrk(t, port, args.wrk_duration, args)
        done.set()
        sampler.join()
        cpu = cpu_seconds(proc.pid) - cpu0
        t.load_rss_kib = max(peak[0], t.load_rss_kib)
        t.cpu_us_per_req = cpu * 1e6 / max(result["requests"], 1)
        t.cpu_rounds.append(t.cpu_us_per_req)
        bad = result["status"] + result["connect"] + result["read"] + result["write"] + result["timeout"]
        status, _ = request(port, t)
        if status != 200:
            sys.exit(f"{t.label} answers {status} after the load run")
        t.wrk_rounds.append(result)
        log(
            f"load {t.label}: {result['rps']:.0f} req/s, p99 {result['p99_us'] / 1000:.2f} ms"
            + (f", {bad} errors or non-2xx" if bad else "")
        )
    finally:
        stop(proc)


def merge_rounds(t: Target) -> None:
    """Several load rounds (and the baseline's extra one after the
    functions): the mean of requests/s, p99 and CPU, the median idle RSS."""
    if t.idle_rss_rounds:
        t.idle_rss_kib = int(statistics.median(t.idle_rss_rounds))
    if t.cpu_rounds:
        t.cpu_us_per_req = statistics.fmean(t.cpu_rounds)
    rounds = t.wrk_rounds
    if not rounds:
        t.wrk = {}
        return
    t.wrk = {
        "rps": statistics.fmean(r["rps"] for r in rounds),
        "p99_us": statistics.fmean(r["p99_us"] for r in rounds),
        "requests": sum(r["requests"] for r in rounds),
        "bad": sum(r["status"] + r["connect"] + r["read"] + r["write"] + r["timeout"] for r in rounds),
    }


# ---------------------------------------------------------------- Lambda mode


def lambda_mode(t: Target, runs: int, cargo_lambda: str) -> dict:
    """Start to the first invocation response under a Lambda runtime API:
    cargo-lambda's when `cargo_lambda` is its path, else bench/lambda_emulator.py."""
    function = t.binary.name
    port = free_port()
    invoke_path = f"/lambda-url/_{t.path}"
    if cargo_lambda:
        version = subprocess.run([cargo_lambda, "lambda", "--version"], capture_output=True, text=True).stdout
        how = f"cargo-lambda {version.split()[1]} (`cargo lambda watch --only-lambda-apis`)"
        emulator = subprocess.Popen(
            [
                cargo_lambda,
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
                str(port),
                "--manifest-path",
                str(ROOT / "functions" / function / "Cargo.toml"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        runtime_api = f"http://127.0.0.1:{port}/.rt"
    else:
        how = "bench/lambda_emulator.py"
        emulator = subprocess.Popen(
            [sys.executable, str(BENCH / "lambda_emulator.py"), str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        runtime_api = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if emulator.poll() is not None or time.time() > deadline:
                    sys.exit(f"the Lambda runtime emulator did not start ({how})")
                time.sleep(0.05)
        times = []
        for i in range(runs):
            env = server_env(
                free_port(),
                {
                    "AWS_LAMBDA_RUNTIME_API": runtime_api,
                    "AWS_LAMBDA_FUNCTION_NAME": "_",
                    "AWS_LAMBDA_FUNCTION_VERSION": "1",
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                },
            )
            start = time.perf_counter()
            proc = spawn(t.binary, env, f"lambda-{function}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request(t.method, invoke_path, body=t.body, headers=t.headers())
                r = conn.getresponse()
                answer = r.read()
                elapsed = time.perf_counter() - start
                conn.close()
                if r.status != 200:
                    sys.exit(f"Lambda mode: {function} answered {r.status}: {answer[:300]!r}")
                times.append(elapsed)
            finally:
                stop(proc)
        log(f"Lambda mode {function}: median {statistics.median(times) * 1000:.1f} ms")
        return {"function": t.label, "route": t.route, "times": times, "how": how}
    finally:
        stop(emulator)


# ---------------------------------------------------------------- report


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[max(0, math.ceil(0.95 * len(s)) - 1)]


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def table(headers: list[str], rows: list[list[str]], text: int = 2) -> str:
    """A Markdown table, plain enough to read in a terminal; the first `text`
    columns are left-aligned, the figures right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = lambda cells: "| " + " | ".join(  # noqa: E731
        c.ljust(w) if i < text else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
    ) + " |"
    sep = "|" + "|".join("-" * (w + 2) if i < text else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([fmt(headers), sep, *(fmt(r) for r in rows)])


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", type=Path, required=True)
    ap.add_argument("--baseline", type=Path, required=True)
    ap.add_argument("--musl-dir", type=Path)
    ap.add_argument("--musl-note", default="")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--wrk-connections", type=int, default=50)
    ap.add_argument("--wrk-duration", default="10s")
    ap.add_argument("--warmup", default="2s")
    ap.add_argument(
        "--load-rounds", type=int, default=1, help="load every binary this many times, in turn (the mean)"
    )
    ap.add_argument("--no-load", action="store_true", help="cold start, size and idle RSS only")
    ap.add_argument("--lambda-function", default="")
    ap.add_argument("--cargo-lambda", default="")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--command", default="")
    ap.add_argument("--notes", action="append", default=[])
    ap.add_argument("functions", nargs="+")
    args = ap.parse_args()
    began = time.perf_counter()

    departure = departure_id()
    targets = [function_target(f, args.bin_dir, departure) for f in args.functions]
    base = baselines(args.baseline)
    needed = [b for b in base.values() if any(t.baseline_label == b.label for t in targets)] or [
        base["baseline cities"]
    ]
    musl: list[Target] = []
    if args.musl_dir:
        for t in targets:
            fresh = {"cold": [], "wrk_rounds": [], "cpu_rounds": [], "idle_rss_rounds": []}
            m = Target(**{**t.__dict__, **fresh})
            m.label = f"{t.label} (musl)"
            m.binary = args.musl_dir / t.binary.name
            musl.append(m)

    log(f"cold start: {args.runs} runs of {len(needed) + len(targets) + len(musl)} binaries, round-robin")
    cold_starts(needed + targets + musl, args.runs)

    if args.no_load:
        log("idle RSS (no load run: --no-load)")
    else:
        log(f"load: wrk -t{args.wrk_threads} -c{args.wrk_connections} -d{args.wrk_duration} --latency "
            f"(after a {args.warmup} warm-up), {args.load_rounds} round(s), the baseline before and after "
            "the functions in each")
    # Several rounds in turn: on a shared 2-core machine one 10-s run of a
    # binary moves by 10-20%, and alternating spreads that drift over all.
    for _ in range(1 if args.no_load else max(args.load_rounds, 1)):
        for b in needed:
            load(b, args)
        # The shipped (musl) build is loaded too: it is the one users run.
        for t in targets + musl:
            load(t, args)
    if not args.no_load:
        for b in needed:
            load(b, args)
    for t in needed + targets + musl:
        merge_rounds(t)

    # Lambda mode: through cargo-lambda's emulator when installed, and always
    # through the minimal one too, which shows what the emulator itself adds.
    lams = []
    if args.lambda_function:
        lt = function_target(args.lambda_function, args.bin_dir, departure)
        if args.cargo_lambda:
            lams.append(lambda_mode(lt, args.runs, args.cargo_lambda))
        lams.append(lambda_mode(lt, args.runs, ""))

    # --------------------------------------------------------- tables
    rows, ratios = [], []
    for t in needed + targets:
        b = base[t.baseline_label]
        size = t.binary.stat().st_size
        med, p = statistics.median(t.cold), p95(t.cold)
        w = t.wrk
        rows.append(
            [
                t.label,
                t.route if len(t.route) <= 40 else t.route[:37] + "...",
                f"{size / 1048576:.2f}",
                f"{med * 1000:.1f}",
                f"{p * 1000:.1f}",
                mib(t.idle_rss_kib),
                mib(t.load_rss_kib) if w else "-",
                f"{w['rps']:.0f}" if w else "-",
                f"{w['p99_us'] / 1000:.2f}" if w else "-",
                f"{t.cpu_us_per_req:.0f}" if w else "-",
                str(w["bad"]) if w else "-",
            ]
        )
        if t.label.startswith("baseline"):
            continue
        bw = b.wrk
        ratios.append(
            [
                t.label,
                b.label,
                ratio(size, b.binary.stat().st_size),
                ratio(med, statistics.median(b.cold)),
                ratio(p, p95(b.cold)),
                ratio(t.idle_rss_kib, b.idle_rss_kib),
                ratio(t.load_rss_kib, b.load_rss_kib) if w else "-",
                ratio(w["rps"], bw["rps"]) if w else "-",
                ratio(w["p99_us"], bw["p99_us"]) if w else "-",
                ratio(t.cpu_us_per_req, b.cpu_us_per_req) if w else "-",
            ]
        )
    main_table = table(
        [
            "binary",
            "route",
            "size MiB",
            "cold median ms",
            "cold p95 ms",
            "idle RSS MiB",
            "load RSS MiB",
            "req/s",
            "p99 ms",
            "CPU us/req",
            "errors",
        ],
        rows,
    )
    ratio_table = table(
        [
            "function",
            "vs",
            "size",
            "cold median",
            "cold p95",
            "idle RSS",
            "load RSS",
            "req/s",
            "p99",
            "CPU/req",
        ],
        ratios,
    )
    by_round = [
        f"{t.label}: " + " / ".join(f"{r['rps']:.0f}" for r in t.wrk_rounds)
        for t in needed + targets + musl
        if len(t.wrk_rounds) > 1
    ]
    sections = [
        "## glibc release build (fat LTO), loopback, one instance each",
        main_table,
        "",
        "## Ratios to the bare axum + sqlx baseline serving the same query, same run "
        "(1.00 = the same; req/s: above 1 is more; everything else: above 1 is bigger or slower)",
        ratio_table,
    ]
    if by_round:
        sections += [
            "",
            "Requests/s by load round, averaged above (the baseline also once after the last round): "
            + "; ".join(by_round),
        ]
    if musl:
        mrows = []
        for m in musl:
            g = next(t for t in targets if t.label == m.label.removesuffix(" (musl)"))
            b = base[m.baseline_label]
            w, bw = m.wrk, b.wrk
            size = m.binary.stat().st_size
            mrows.append(
                [
                    m.label,
                    m.route if len(m.route) <= 40 else m.route[:37] + "...",
                    f"{size / 1048576:.2f}",
                    f"{statistics.median(m.cold) * 1000:.1f}",
                    f"{p95(m.cold) * 1000:.1f}",
                    mib(m.idle_rss_kib),
                    f"{w['rps']:.0f}" if w else "-",
                    f"{w['p99_us'] / 1000:.2f}" if w else "-",
                    ratio(size, g.binary.stat().st_size),
                    ratio(statistics.median(m.cold), statistics.median(g.cold)),
                    ratio(m.idle_rss_kib, g.idle_rss_kib),
                    ratio(statistics.median(m.cold), statistics.median(b.cold)),
                    ratio(w["rps"], bw["rps"]) if w else "-",
                    ratio(w["p99_us"], bw["p99_us"]) if w else "-",
                ]
            )
        sections += [
            "",
            "## musl build (static, as shipped): figures, ratios to the same function's glibc build "
            "(x glibc), and to the bare baseline (x base)",
            table(
                [
                    "binary", "route", "size MiB", "cold median ms", "cold p95 ms", "idle RSS MiB", "req/s", "p99 ms",
                    "size x glibc", "cold x glibc", "idle RSS x glibc", "cold x base", "req/s x base", "p99 x base",
                ],
                mrows,
            ),
        ]
    else:
        sections += ["", f"musl: {args.musl_note or 'not built'}"]
    if lams:
        lrows = []
        for lam in lams:
            g = next((t for t in targets if t.label == lam["function"]), None)
            lrows.append(
                [
                    lam["how"],
                    lam["function"],
                    lam["route"],
                    f"{statistics.median(lam['times']) * 1000:.1f}",
                    f"{p95(lam['times']) * 1000:.1f}",
                    f"{statistics.median(g.cold) * 1000:.1f}" if g else "-",
                ]
            )
        sections += [
            "",
            "## Lambda mode: process start to the first invocation response (AWS_LAMBDA_RUNTIME_API set, "
            "the request sent as a function-URL event), same runs as above",
            table(["runtime API emulator", "function", "route", "median ms", "p95 ms", "HTTP mode median ms"], lrows, 3),
        ]
    elapsed = time.perf_counter() - began
    sections += [
        "",
        f"- Cold start: process start to the first 200 on the route, {args.runs} runs each (round-robin "
        "over the binaries), p95 by nearest rank (with fewer than 20 runs: the slowest).",
        "- Idle RSS: 1 s after the first 200. Load RSS: the highest VmRSS sampled every 50 ms during the "
        "wrk run. CPU us/req: the server's user + system time during the wrk run over the requests answered. "
        f"MIMALLOC_ARENA_EAGER_COMMIT={os.environ.get('MIMALLOC_ARENA_EAGER_COMMIT', '0')} as in the Dockerfile.",
        "- Load: none (--no-load)."
        if args.no_load
        else f"- Load: wrk -t{args.wrk_threads} -c{args.wrk_connections} -d{args.wrk_duration} --latency after a "
        f"{args.warmup} warm-up, a fresh process each; errors: non-2xx/3xx answers and socket errors. "
        "wrk, the server and Postgres share the machine's cores.",
        *(f"- {n}" for n in args.notes),
        f"- Measuring took {elapsed:.0f} s.",
    ]
    report = "\n".join(sections)
    print("\n" + report)

    machine = (
        f"{platform.node()}: {os.cpu_count()} cores, "
        + next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        + f", Linux {platform.release()}"
    )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "# scripts/bench results\n\n"
        f"Command: `{args.command}`\n\n"
        f"Date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}; commit {commit}"
        + (" with uncommitted changes" if dirty else "")
        + f"; {machine}.\n\n"
        + report
        + "\n"
    )
    log(f"written to {args.out}")


def forget_redis_keys() -> None:
    """Drops this run's keys (REDIS_KEY_PREFIX bench:<pid>:*), best effort."""
    url = os.environ.get("REDIS_URL")
    if not url or not shutil.which("redis-cli"):
        return
    keys = subprocess.run(
        ["redis-cli", "-u", url, "--scan", "--pattern", f"bench:{os.getpid()}:*"],
        capture_output=True,
        text=True,
    ).stdout.split()
    for i in range(0, len(keys), 500):
        subprocess.run(["redis-cli", "-u", url, "del", *keys[i : i + 500]], capture_output=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        forget_redis_keys()
