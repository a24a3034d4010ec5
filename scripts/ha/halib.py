"""Shared by the failover and restore drills in scripts/ha: local servers on
loopback, a TCP proxy standing in for a Kubernetes Service, emulator tokens,
and a steady load that records every answer."""

import base64
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
PROFILE = os.environ.get("HA_PROFILE", "debug")
PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
PROJECT = "demo-ai-imutis"


def log(msg):
    print(f"\033[1;34m==>\033[0m {msg}", file=sys.stderr, flush=True)


def build(*packages):
    """Builds the binaries the drill runs (debug unless HA_PROFILE=release)."""
    args = ["cargo", "build", "-q"] + [a for p in packages for a in ("-p", p)]
    if PROFILE == "release":
        args.append("--release")
    log("cargo " + " ".join(args[1:]))
    subprocess.run(args, cwd=ROOT, check=True)


def binary(name):
    return os.path.join(TARGET, PROFILE, name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Processes:
    """Children that die with the drill."""

    def __init__(self):
        self.children = []

    def start(self, args, log_path, env=None, **kw):
        out = open(log_path, "ab")
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, **kw)
        self.children.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.children):
            if p.poll() is None:
                p.terminate()
        for p in self.children:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


# ---- Postgres clusters (initdb refuses root: run as the postgres user) ----

def as_pg(args, **kw):
    if os.getuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, check=True, **kw)


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, mode=0o700)
    os.chmod(path, 0o700)
    if os.getuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(path, pw.pw_uid, pw.pw_gid)


def pg_ctl(datadir, *args, quiet=False):
    as_pg([f"{PG_BIN}/pg_ctl", "-D", datadir, *args], stdout=subprocess.DEVNULL,
          stderr=subprocess.DEVNULL if quiet else None)


def psql(port, sql, db="imutis"):
    out = subprocess.run(
        ["psql", f"postgres://postgres@127.0.0.1:{port}/{db}", "-qtAX", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"psql on :{port} failed: {out.stderr.strip()}")
    return out.stdout.strip()


# ---- a TCP proxy: the read-write Service ----

class Proxy:
    """Forwards 127.0.0.1:port to a backend port; `switch` points it at
    another backend and drops every open connection, as a Service whose
    endpoint changed after the old pod died."""

    def __init__(self, backend):
        self.backend = backend
        self.port = free_port()
        self.lock = threading.Lock()
        self.open = set()
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", self.port))
        self.server.listen(256)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            client, _ = self.server.accept()
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.backend), 2)
            upstream.settimeout(None)
        except OSError:
            client.close()
            return
        pair = (client, upstream)
        with self.lock:
            self.open.add(pair)

        def pump(a, b):
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in pair:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                with self.lock:
                    self.open.discard(pair)

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)

    def switch(self, backend):
        with self.lock:
            self.backend = backend
            pairs = list(self.open)
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


# ---- the functions ----

def token(uid):
    """An unsigned Firebase Auth emulator token (the functions run in
    emulator mode for project demo-ai-imutis)."""
    e = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
    n = int(time.time())
    claims = {"iss": f"https://securetoken.google.com/{PROJECT}", "aud": PROJECT, "sub": uid,
              "iat": n, "auth_time": n, "exp": n + 3600}
    return e({"alg": "none"}) + "." + e(claims) + "."


def function_env(database_url, redis_url, port, **extra):
    env = dict(os.environ)
    env.update({
        "PORT": str(port), "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "FIREBASE_PROJECT_ID": PROJECT, "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099",
        "RUST_LOG": "warn", "REDIS_KEY_PREFIX": "imutis-ha",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def request(port, method, path, uid=None, body=None, headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    if uid:
        h["Authorization"] = f"Bearer {token(uid)}"
        h["X-Device-ID"] = f"device-{uid}"
    h.update(headers or {})
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = conn.getresponse()
        data = r.read()
        return r.status, data
    except OSError as e:
        return 0, str(e).encode()
    finally:
        conn.close()


class Load:
    """`workers` threads each sending `send(i)` in a loop until stopped;
    every answer is kept as (start, end, status, body, extra)."""

    def __init__(self, workers, send, pause=0.0):
        self.send, self.pause = send, pause
        self.results = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(w,), daemon=True) for w in range(workers)]

    def _run(self, w):
        i = 0
        while not self.stopping.is_set():
            started = time.time()
            status, body, extra = self.send(w, i)
            with self.lock:
                self.results.append((started, time.time(), status, body, extra))
            i += 1
            if self.pause:
                time.sleep(self.pause)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join()
        return sorted(self.results)


def outage(results, after):
    """(first failure, last failure, failed answers) among answers that
    started after `after`: a failure is anything but 2xx/4xx."""
    bad = [r for r in results if r[0] >= after and not (200 <= r[2] < 500)]
    if not bad:
        return None, None, 0
    return bad[0][0], bad[-1][1], len(bad)


def uid_for(w, i):
    return f"ha-{w}-{i % 50}"


def new_key():
    return str(uuid.uuid4())


def interrupt_cleanup(procs):
    def handler(*_):
        procs.stop_all()
        sys.exit(130)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
