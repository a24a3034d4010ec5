"""The Locust mix of `scripts/bench-edge`: the app's calls (bench/locustfile.py,
weight 4) plus, when EDGE_ORIGINAL_LOCUSTFILE names it, the original backend's
own load test (its TravelUser, weight 3, and AdminUser, weight 1), unchanged
except for two things: its made-up "demo-token-..." bearer tokens, which no
Firebase project accepts, become Firebase emulator tokens (the server runs in
emulator mode, as scripts/dev does), and every user's think time is
EDGE_WAIT_MIN..EDGE_WAIT_MAX seconds (default 0.1..0.3 instead of 1..3/2..5),
so that a few dozen users load the two cores.

    EDGE_ORIGINAL_LOCUSTFILE=/path/original-locustfile.py \\
      locust -f bench/edge/mix.py --headless -u 40 -r 40 -t 20s --host http://127.0.0.1:8090
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
WAIT = (float(os.environ.get("EDGE_WAIT_MIN", "0.1")), float(os.environ.get("EDGE_WAIT_MAX", "0.3")))


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# Modules, not classes, at the top level: Locust runs every User class it finds here.
app = _load("imutis_app_locustfile", HERE.parent / "locustfile.py")


class AppUser(app.ImutisUser):
    weight = 4

    def wait_time(self):
        return random.uniform(*WAIT)


def _emulator_headers(user) -> None:
    opts = user.environment.parsed_options
    project = opts.firebase_project if opts else "demo-ai-imutis"
    uid = f"orig-{uuid.uuid4().hex[:12]}"
    user.headers = {**user.headers, "Authorization": f"Bearer {app.emulator_token(project, uid)}"}


_original_path = os.environ.get("EDGE_ORIGINAL_LOCUSTFILE", "")
if _original_path:
    if not Path(_original_path).is_file():
        sys.exit(f"EDGE_ORIGINAL_LOCUSTFILE: no file {_original_path}")
    original = _load("imutis_original_locustfile", Path(_original_path))

    class _Original:
        """The original's users, paced as the app's and signed in with
        emulator tokens (not a User: Locust runs only the two below)."""

        def wait_time(self):
            return random.uniform(*WAIT)

        def on_start(self):
            super().on_start()
            _emulator_headers(self)

    class OriginalTravelUser(_Original, original.TravelUser):
        weight = 3

    class OriginalAdminUser(_Original, original.AdminUser):
        weight = 1
