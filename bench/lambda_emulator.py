#!/usr/bin/env python3
"""A minimal AWS Lambda Runtime API on 127.0.0.1:PORT, the fallback of
scripts/bench's Lambda mode when cargo-lambda is not installed.

A client invokes the function through a function-URL-like front door,
`ANY /lambda-url/_/<path>`: the request becomes an API Gateway HTTP (v2)
event, handed to the function's long poll on
`GET /2018-06-01/runtime/invocation/next`; the function's
`POST /2018-06-01/runtime/invocation/{id}/response` becomes the HTTP answer.
One function instance at a time, as `cargo lambda watch --only-lambda-apis`.

Usage: lambda_emulator.py PORT   (then run the function with
AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT)
"""

from __future__ import annotations

import base64
import json
import queue
import select
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

PREFIX = "/2018-06-01/runtime"
events: queue.Queue = queue.Queue()
pending: dict[str, dict] = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def closed_by_peer(self) -> bool:
        sock = self.connection
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def runtime(self) -> None:
        path = self.path
        if self.command == "GET" and path == f"{PREFIX}/invocation/next":
            # The long poll of a process that has since been stopped must not
            # take the next instance's event: hand events only to live callers.
            while True:
                try:
                    request_id, event = events.get(timeout=0.2)
                except queue.Empty:
                    if self.closed_by_peer():
                        return
                    continue
                if self.closed_by_peer():
                    events.put((request_id, event))
                    return
                break
            self.reply(
                200,
                json.dumps(event).encode(),
                {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30_000),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-1:123456789012:function:_",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                },
            )
            return
        body = self.body()
        parts = path[len(PREFIX) :].strip("/").split("/")
        if self.command == "POST" and len(parts) == 3 and parts[0] == "invocation":
            with lock:
                slot = pending.get(parts[1])
            if slot is not None:
                slot["answer"] = (parts[2], body)
                slot["done"].set()
            self.reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
            return
        if self.command == "POST" and parts[:2] == ["init", "error"]:
            print(f"init error: {body[:500]!r}", file=sys.stderr)
            with lock:
                for slot in pending.values():
                    slot["answer"] = ("error", body)
                    slot["done"].set()
            self.reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
            return
        self.reply(404, b"not found")

    def invoke(self) -> None:
        url = urlsplit(self.path)
        path = "/" + url.path[len("/lambda-url/") :].split("/", 1)[1] if url.path.count("/") > 2 else "/"
        raw = self.body()
        now = time.time()
        request_id = str(uuid.uuid4())
        headers = {k.lower(): v for k, v in self.headers.items()}
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": url.query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "bench",
                "domainName": "127.0.0.1",
                "domainPrefix": "bench",
                "http": {
                    "method": self.command,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.client_address[0],
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": request_id,
                "routeKey": "$default",
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "body": raw.decode() if raw else None,
            "isBase64Encoded": False,
        }
        slot = {"done": threading.Event(), "answer": None}
        with lock:
            pending[request_id] = slot
        events.put((request_id, event))
        ok = slot["done"].wait(60)
        with lock:
            pending.pop(request_id, None)
        if not ok:
            self.reply(504, b"the function did not answer within 60 s")
            return
        kind, answer = slot["answer"]
        if kind != "response":
            self.reply(502, answer)
            return
        a = json.loads(answer)
        body = a.get("body") or ""
        data = base64.b64decode(body) if a.get("isBase64Encoded") else body.encode()
        out = {k: v for k, v in (a.get("headers") or {}).items() if k.lower() not in ("content-length", "transfer-encoding")}
        self.reply(int(a.get("statusCode", 200)), data, out)

    def handle_any(self) -> None:
        if self.path.startswith(PREFIX):
            self.runtime()
        elif self.path.startswith("/lambda-url/"):
            self.invoke()
        else:
            self.reply(404, b"not found")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main() -> None:
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
