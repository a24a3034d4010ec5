#!/usr/bin/env python3
"""Scale from zero on one machine, the part of Knative's activator that holds
a request while its function starts: `scripts/bench-edge`'s activator.

The activator binds every function's port itself (the ports the edge's
upstreams name) and starts no process. The kernel completes each connection
into the socket's accept queue, so the edge's request waits there. When a
socket becomes readable (a connection queued) and its function is not
running, the activator starts the function's binary with that listening
socket as fd 3 (socket activation, LISTEN_FDS=1 and LISTEN_PID, see
shared/src/runtime.rs) and stops watching it: the process accepts the queued
connection and every later one.

Idle stop: a thread reads each running process's /metrics every second; once
its answered requests (`http_requests_total`, without /healthz, /readyz,
/metrics) and open WebSockets (`websocket_connections`) have not changed and
the WebSockets are 0 for `idle_seconds`, it sends SIGTERM; the process
drains and exits (connections arriving meanwhile queue in the socket), and
the activator watches the socket again, so the next request starts a new
process. Counting answers misses a request in flight for longer than the idle
period (Knative counts in-flight requests in its queue-proxy); no function of
this app holds a plain HTTP request that long.

    activator.py --manifests list.json --bin-dir target/bench-edge/release --base-port 9100 --idle 60

runs it standalone (Ctrl-C stops it and every process); run.py uses the
`Activator` class in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

OPERATIONAL = ("/healthz", "/readyz", "/metrics")
# bash keeps its process id when it execs the binary, so LISTEN_PID names it,
# and it moves the listening socket (passed as fd $1) to fd 3 (dash cannot:
# it takes single-digit descriptors only).
EXEC_ACTIVATED = 'export LISTEN_PID=$$; exec "$0" 3<&"$1"-'


def activity(port: int) -> tuple[int, int] | None:
    """(requests answered, open WebSockets) from a process's /metrics, or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    answered = 0
    ws = 0
    for line in text.splitlines():
        if line.startswith("http_requests_total{"):
            endpoint = re.search(r'endpoint="([^"]*)"', line)
            if endpoint and endpoint.group(1) not in OPERATIONAL:
                answered += int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith("websocket_connections"):
            ws += int(float(line.rsplit(" ", 1)[1]))
    return answered, ws


class Activator:
    """Owns every function's listening socket; starts each function on its
    first connection, stops it after `idle_seconds` without requests."""

    def __init__(self, ports: dict[str, int], bin_dir: Path, env: dict, idle_seconds: float, log_dir: Path):
        self.ports = ports
        self.bin_dir = bin_dir
        self.env = {**env, "LISTEN_FDS": "1"}
        self.env.pop("LISTEN_PID", None)
        self.idle_seconds = idle_seconds
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.sockets: dict[str, socket.socket] = {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.spawned_at: dict[str, float] = {}
        self.starts: dict[str, int] = {name: 0 for name in ports}
        self.idle_stops = 0
        self.failures: dict[str, int] = {name: 0 for name in ports}
        self.retry_at: dict[str, float] = {}
        self.lock = threading.Lock()
        self.selector = selectors.DefaultSelector()
        self.stopping = threading.Event()
        for name, port in ports.items():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(4096)
            s.setblocking(False)
            self.sockets[name] = s
            self.selector.register(s, selectors.EVENT_READ, name)
        self.threads = [
            threading.Thread(target=self._serve, daemon=True),
            threading.Thread(target=self._idle_watch, daemon=True),
        ]

    def start(self) -> Activator:
        for t in self.threads:
            t.start()
        return self

    def _spawn(self, name: str) -> None:
        fd = self.sockets[name].fileno()
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child holds it
        proc = subprocess.Popen(
            ["/bin/bash", "-c", EXEC_ACTIVATED, str(self.bin_dir / name), str(fd)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            pass_fds=(fd,),
        )
        log.close()
        self.procs[name] = proc
        self.spawned_at[name] = time.monotonic()
        self.starts[name] += 1

    def _serve(self) -> None:
        while not self.stopping.is_set():
            events = self.selector.select(timeout=0.02)
            with self.lock:
                for key, _ in events:
                    name = key.data
                    if name not in self.procs:
                        self.selector.unregister(key.fileobj)
                        self._spawn(name)
                now = time.monotonic()
                for name, proc in list(self.procs.items()):
                    if proc.poll() is not None:
                        del self.procs[name]
                        if proc.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
                            # A process that fails to start: retry in a second, not in a loop.
                            self.failures[name] += 1
                            self.retry_at[name] = now + 1.0
                        else:
                            self.selector.register(self.sockets[name], selectors.EVENT_READ, name)
                for name, at in list(self.retry_at.items()):
                    if now >= at:
                        del self.retry_at[name]
                        self.selector.register(self.sockets[name], selectors.EVENT_READ, name)

    def _idle_watch(self) -> None:
        seen: dict[str, tuple[tuple[int, int], float]] = {}
        while not self.stopping.wait(1.0):
            if not self.idle_seconds:
                continue
            with self.lock:
                running = {n: p for n, p in self.procs.items() if p.poll() is None}
            for name, proc in running.items():
                now = time.monotonic()
                a = activity(self.ports[name])
                if a is None:
                    continue
                last = seen.get(name)
                if last is None or last[0] != a or a[1] > 0 or self.spawned_at[name] > last[1]:
                    seen[name] = (a, now)
                elif now - last[1] >= self.idle_seconds:
                    proc.send_signal(signal.SIGTERM)
                    self.idle_stops += 1
                    seen.pop(name, None)

    def running(self) -> dict[str, subprocess.Popen]:
        with self.lock:
            return {n: p for n, p in self.procs.items() if p.poll() is None}

    def stop_all(self, timeout: float = 15.0) -> None:
        """SIGTERM every running process and wait until the activator has
        reaped them all (every function is at zero again)."""
        with self.lock:
            procs = list(self.procs.values())
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.procs and not self.retry_at:
                    return
            time.sleep(0.02)
        for p in procs:
            if p.poll() is None:
                p.kill()

    def close(self) -> None:
        self.stop_all()
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=5)
        for s in self.sockets.values():
            s.close()


def main() -> None:
    from nginx_conf import load_manifests, ports  # noqa: PLC0415 - standalone use only

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifests")
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--base-port", type=int, default=9100)
    ap.add_argument("--idle", type=float, default=60.0, help="seconds without requests before a process stops")
    ap.add_argument("--log-dir", default="target/bench/edge/activator")
    args = ap.parse_args()
    functions = load_manifests(args.manifests)
    act = Activator(ports(functions, args.base_port), Path(args.bin_dir), dict(os.environ), args.idle,
                    Path(args.log_dir)).start()
    print(json.dumps({"listening": len(act.sockets), "idle_seconds": args.idle}), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        act.close()


if __name__ == "__main__":
    main()
