"""Locust load test of the AI-IMUTIS API with the original backend's task mix:
list and search travels, departure estimates, cities, attractions, the
profile, sessions, notifications and bookings (history, and a booking that is
cancelled again at once, so seats go back).

Every simulated user signs in with its own unsigned Firebase emulator token
(alg none, as in the README's curl example), so it only works in full against
a server in emulator mode: `scripts/dev` (127.0.0.1:8080) or a deployment with
FIREBASE_AUTH_EMULATOR_HOST set. When the target refuses the token (401), the
users fall back to the public tasks only and say so.

    locust -f bench/locustfile.py --headless -u 20 -r 5 -t 60s --host http://127.0.0.1:8080

Cold-start mode (`--cold-start`, or LOCUST_COLD_START=1): each user waits
`--idle-seconds` (default 90, past Knative's scale-to-zero) before each
burst; a burst requests each of `--cold-paths` once, recording the time to
first byte of that first request as "COLD <path>", then sends
`--burst-requests` warm requests to each; `--cold-bursts N` stops after N
bursts (else it runs until --run-time). Run it with one user for a clean
figure:

    locust -f bench/locustfile.py --headless -u 1 -r 1 -t 600s --cold-start --cold-bursts 3 --host https://api.example

Options: --firebase-project (default demo-ai-imutis, LOCUST_FIREBASE_PROJECT),
--no-writes (no bookings; LOCUST_NO_WRITES=1).
"""

from __future__ import annotations

import base64
import json
import random
import statistics
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from locust import HttpUser, events, task

CITIES = ["douala", "yaounde", "buea"]
ATTRACTIONS = [
    "douala-waterfront",
    "douala-maritime-museum",
    "yaounde-national-museum",
    "yaounde-mount-febe-viewpoint",
    "buea-botanical-garden",
    "buea-mount-cameroon",
]
ROUTES = [
    "route-yaounde-douala-morning",
    "route-douala-yaounde-afternoon",
    "route-douala-buea-morning",
    "route-buea-douala-afternoon",
    "route-yaounde-buea",
]
PAIRS = [("yaoundé", "douala"), ("douala", "yaounde"), ("douala", "buea"), ("buea", "douala"), ("yaounde", "buea")]
QUERIES = ["museum", "market", "beach", "garden", "cathedral", "mountain", "zoo"]
PAYMENT = ["card", "momo", "orange_money"]


@events.init_command_line_parser.add_listener
def _(parser):
    parser.add_argument("--cold-start", action="store_true", env_var="LOCUST_COLD_START", default=False,
                        help="wait past scale-to-zero between bursts and record the first request's TTFB")
    parser.add_argument("--idle-seconds", type=float, env_var="LOCUST_IDLE_SECONDS", default=90.0,
                        help="cold-start mode: idle time between bursts (default 90)")
    parser.add_argument("--burst-requests", type=int, env_var="LOCUST_BURST_REQUESTS", default=5,
                        help="cold-start mode: warm requests per path after the first (default 5)")
    parser.add_argument("--cold-bursts", type=int, env_var="LOCUST_COLD_BURSTS", default=0,
                        help="cold-start mode: stop after this many bursts (default 0: until --run-time)")
    parser.add_argument("--cold-paths", env_var="LOCUST_COLD_PATHS",
                        default="/api/health,/api/cities,/api/travels",
                        help="cold-start mode: comma-separated GET paths, one function each")
    parser.add_argument("--firebase-project", env_var="LOCUST_FIREBASE_PROJECT", default="demo-ai-imutis",
                        help="project of the emulator tokens (iss and aud)")
    parser.add_argument("--no-writes", action="store_true", env_var="LOCUST_NO_WRITES", default=False,
                        help="no bookings (read-only mix)")


def emulator_token(project: str, uid: str) -> str:
    def enc(o: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{project}",
        "aud": project,
        "sub": uid,
        "user_id": uid,
        "email": f"{uid}@load.invalid",
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
    }
    return enc({"alg": "none", "typ": "JWT"}) + "." + enc(claims) + "."


# Whether the target accepts emulator tokens: probed once by the first user.
_auth_probe = {"done": False, "ok": True}
_auth_lock = threading.Lock()
# Cold-start mode: TTFB in ms of each burst's first request, per path.
COLD: dict[str, list[float]] = {}


class ImutisUser(HttpUser):
    """A user of the mobile app; in cold-start mode, a burst prober."""

    def __init__(self, environment):
        super().__init__(environment)
        opts = environment.parsed_options
        self.cold = bool(opts and opts.cold_start)
        self.project = opts.firebase_project if opts else "demo-ai-imutis"
        self.writes = not (opts and opts.no_writes)
        self.uid = f"load-{uuid.uuid4().hex[:12]}"
        self.token = emulator_token(self.project, self.uid)
        self.token_made = time.time()
        self.authed = True
        if self.cold:
            self.tasks = [ImutisUser.cold_burst]
            self.idle = opts.idle_seconds
            self.burst = opts.burst_requests
            self.cold_paths = [p.strip() for p in opts.cold_paths.split(",") if p.strip()]
            self.bursts_left = opts.cold_bursts

    def wait_time(self):
        # Cold-start mode waits inside its task (idle, then the burst).
        return 0 if self.cold else random.uniform(1, 3)

    # ------------------------------------------------------------------ helpers

    def headers(self) -> dict[str, str]:
        if time.time() - self.token_made > 3000:
            self.token = emulator_token(self.project, self.uid)
            self.token_made = time.time()
        h = {
            "X-Device-ID": f"dev-{self.uid}",
            "X-Device-Type": "android",
            "X-Device-OS": "Android 14",
            "X-App-Version": "1.0.0",
        }
        if self.authed:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def on_start(self):
        if self.cold:
            return
        with _auth_lock:
            if not _auth_probe["done"]:
                with self.client.get("/api/users/profile", headers=self.headers(), name="auth probe",
                                     catch_response=True) as r:
                    _auth_probe["ok"] = r.status_code != 401
                    if not _auth_probe["ok"]:
                        r.success()  # an answer about the target, not a failure
                _auth_probe["done"] = True
                if not _auth_probe["ok"]:
                    print("the target refuses emulator tokens (401): public tasks only, anonymous", flush=True)
        self.authed = _auth_probe["ok"]

    def get(self, path, name=None):
        return self.client.get(path, headers=self.headers(), name=name or path)

    def post(self, path, body, name=None, **kw):
        return self.client.post(path, json=body, headers=self.headers(), name=name or path, **kw)

    # ------------------------------------------------------------------ public

    @task(6)
    def list_travels(self):
        self.get(f"/api/travels?limit={random.choice([10, 20, 50])}", name="/api/travels")

    @task(5)
    def search_travels(self):
        origin, destination = random.choice(PAIRS)
        day = (datetime.now(timezone.utc) + timedelta(days=random.randint(0, 6))).strftime("%Y-%m-%d")
        self.post("/api/travels/search", {"origin": origin, "destination": destination,
                                          "departure_date": day, "passengers": random.randint(1, 3)})

    @task(2)
    def travel_detail(self):
        r = self.get("/api/travels?limit=5", name="/api/travels")
        if r.ok and r.json():
            self.get(f"/api/travels/{random.choice(r.json())['id']}", name="/api/travels/{route_id}")

    @task(3)
    def estimate_departure(self):
        self.post("/api/ai/estimate-departure", {"route_id": random.choice(ROUTES),
                                                 "current_time": datetime.now(timezone.utc).isoformat()})

    @task(1)
    def estimate_travel(self):
        self.post("/api/travels/estimate", {"route_id": random.choice(ROUTES), "passengers": 1})

    @task(4)
    def cities(self):
        self.get("/api/cities")

    @task(3)
    def city_attractions(self):
        self.get(f"/api/cities/{random.choice(CITIES)}/attractions", name="/api/cities/{city_id}/attractions")

    @task(2)
    def attraction(self):
        self.get(f"/api/attractions/{random.choice(ATTRACTIONS)}", name="/api/attractions/{attraction_id}")

    @task(2)
    def search_attractions(self):
        self.post("/api/attractions/search", {"query": random.choice(QUERIES)})

    # ------------------------------------------------------------------ signed in

    @task(2)
    def profile(self):
        if self.authed:
            self.get("/api/users/profile")

    @task(1)
    def sessions(self):
        if self.authed:
            self.get("/api/users/sessions")

    @task(2)
    def notifications(self):
        if self.authed:
            self.get("/api/notifications")

    @task(1)
    def booking_history(self):
        if self.authed:
            self.get("/api/bookings/history")

    @task(1)
    def book_and_cancel(self):
        if not (self.authed and self.writes):
            return
        r = self.get("/api/travels?limit=20", name="/api/travels")
        if not (r.ok and r.json()):
            return
        departure = random.choice(r.json())["id"]
        with self.post("/api/travels/book", {"route_id": departure, "passengers": 1,
                                              "payment_method": random.choice(PAYMENT)},
                       catch_response=True) as b:
            if b.status_code == 400:  # sold out: the expected answer, not a failure
                b.success()
                return
        if b.ok:
            self.post(f"/api/bookings/{b.json()['booking_id']}/cancel", {},
                      name="/api/bookings/{booking_id}/cancel")

    # ------------------------------------------------------------------ cold start

    def cold_burst(self):
        # Quiet first, so that every burst meets functions scaled to zero.
        print(f"cold-start mode: idle {self.idle:.0f} s before the next burst", flush=True)
        time.sleep(self.idle)
        for path in self.cold_paths:
            start = time.perf_counter()
            try:
                # stream=True: the call returns once the status line and headers
                # are in; `elapsed` is the time from sending to the headers.
                r = self.client.get(path, headers=self.headers(), name=f"COLD {path}", stream=True)
                ttfb = r.elapsed.total_seconds() * 1000
                r.content  # noqa: B018 - finish the response
                ok = r.status_code < 500
            except Exception as e:  # noqa: BLE001
                ttfb, ok = (time.perf_counter() - start) * 1000, False
                print(f"COLD {path}: {e}", flush=True)
            if ok:
                COLD.setdefault(path, []).append(ttfb)
            print(f"cold burst: {path} first byte after {ttfb:.0f} ms", flush=True)
            for _ in range(self.burst):
                self.get(path, name=f"WARM {path}")
        if self.bursts_left:
            self.bursts_left -= 1
            if not self.bursts_left:
                print("cold-start mode: the last burst is done", flush=True)
                self.environment.runner.quit()


@events.quitting.add_listener
def _(environment, **kw):
    if not COLD:
        return
    print("\nCold start, time to first byte of each burst's first request:")
    for path, ms in COLD.items():
        print(f"  {path}: median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms, "
              f"n={len(ms)} ({', '.join(f'{m:.0f}' for m in ms)})")
