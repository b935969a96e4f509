"""The simulated people of bench/deadline_night.py: candidates uploading, staff browsing.

Each person has one loopback HTTP client with their own cookies. A candidate opens their link,
uploads, lands back on the page and then polls the grading status until it says checked, as the
page's script does (static/app.js: every 2 s, backing off to 10 s while the version only waits). Staff sign in, load their dashboard
(and the admin the invitation list) about once a second, and sign in again in a new session
after `SIGN_IN_EVERY` rounds, so sign-in is measured all along. When the app answers 503 (the
database was briefly out of reach) a person does what a person would: waits the Retry-After
seconds, reloads the page and tries again, a few times. Those answers and retries are counted;
any other failure (a 500, a refused connection) is recorded as an error.

These run in the load-generating process (bench/deadline_client.py), not in the bench itself.
"""

from __future__ import annotations

import copy
import http.client
import json
import random
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# How many times a person tries again after "please try again in a moment" before giving up.
PATIENCE = 8
# The page types both latency tables report, in this order.
PAGE_TYPES = ("candidate pages", "status polls", "uploads", "staff pages", "sign-in")
# The candidate page's script (static/app.js) polls this often while a version is being checked or
# its state has just changed, and backs off to every POLL_SLOW_SECONDS while it only waits.
POLL_SECONDS = 2.0
POLL_SLOW_SECONDS = 10.0
SIGN_IN_EVERY = 20


class Browser:
    """One person's connection to the app on loopback, with their session cookie."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.retry_after = 5.0

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, bytes, float]:
        """Send one request; the status, body and seconds taken (Retry-After kept on self)."""
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if content_type:
            headers["Content-Type"] = content_type
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        seconds = time.perf_counter() - started
        for header in response.headers.get_all("Set-Cookie") or ():
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        retry_after = response.headers.get("Retry-After", "")
        self.retry_after = float(retry_after) if retry_after.isdigit() else 5.0
        return response.status, data, seconds


def multipart(fields: dict[str, str], filename: str, payload: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with the notebook file and plain fields."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="notebook"; filename="{filename}"\r\n'
        "Content-Type: application/x-ipynb+json\r\n\r\n".encode()
        + payload
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class Timeline:
    """What the simulated people saw (seconds per page type), guarded by a lock; travels as JSON."""

    samples: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in PAGE_TYPES})
    errors: list[str] = field(default_factory=list)
    # (wall-clock time, "upload" | "candidate page" | "staff page") of every 503 answer.
    unavailable: list[tuple[float, str]] = field(default_factory=list)
    upload_retries: int = 0
    # Candidates whose upload went through or failed for good.
    uploads_settled: int = 0
    upload_starts: list[float] = field(default_factory=list)
    first_upload: float | None = None
    last_upload: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.samples[kind].append(seconds)

    def refused(self, what: str) -> None:
        with self.lock:
            self.unavailable.append((time.time(), what))

    def error(self, who: str, error: Exception) -> None:
        with self.lock:
            self.errors.append(f"{who}: {type(error).__name__}: {error}")

    def to_json(self) -> dict[str, Any]:
        """Everything but the lock, for the bench to read back."""
        with self.lock:
            return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name != "lock"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timeline:
        """The timeline a client process wrote."""
        data = dict(data)
        data["unavailable"] = [(when, what) for when, what in data["unavailable"]]
        return cls(**data)


def _wait_like_a_person(browser: Browser) -> None:
    time.sleep(browser.retry_after + random.uniform(0.0, 2.0))


def open_form(browser: Browser, path: str, timeline: Timeline, kind: str, what: str) -> str:
    """Load a page holding a form (reloading after a 503) and return its CSRF token."""
    for _ in range(PATIENCE):
        status, data, seconds = browser.request("GET", path)
        if status == 503:
            timeline.refused(what)
            _wait_like_a_person(browser)
            continue
        if status != 200:
            raise RuntimeError(f"GET {path.split('/')[1]}... answered {status}")
        timeline.add(kind, seconds)
        match = CSRF_FIELD.search(data.decode())
        if not match:
            raise RuntimeError("no CSRF token on the page")
        return match.group(1)
    raise RuntimeError(f"GET {path.split('/')[1]}... still unavailable after {PATIENCE} tries")


def _upload(browser: Browser, token: str, payload: bytes, timeline: Timeline) -> None:
    for _ in range(PATIENCE):
        csrf = open_form(browser, f"/i/{token}", timeline, "candidate pages", "candidate page")
        time.sleep(random.uniform(1.0, 4.0))  # choosing the file
        body, content_type = multipart({"csrf_token": csrf}, "answers.ipynb", payload)
        started = time.time()
        status, _, seconds = browser.request("POST", f"/i/{token}", body, content_type)
        if status == 302:
            break
        if status != 503:
            raise RuntimeError(f"upload answered {status}")
        timeline.refused("upload")
        with timeline.lock:
            timeline.upload_retries += 1
        _wait_like_a_person(browser)
    else:
        raise RuntimeError(f"upload still unavailable after {PATIENCE} tries")
    timeline.add("uploads", seconds)
    with timeline.lock:
        timeline.upload_starts.append(started)
        timeline.first_upload = min(timeline.first_upload or started, started)
        timeline.last_upload = max(timeline.last_upload or 0.0, started + seconds)


def candidate_session(port: int, token: str, payload: bytes, timeline: Timeline, stop: threading.Event) -> None:
    """Open the link, pick the file, upload it (again after a 503), land on the page, poll until checked."""
    browser = Browser(port)
    try:
        try:
            _upload(browser, token, payload, timeline)
        finally:
            with timeline.lock:
                timeline.uploads_settled += 1
        status, _, seconds = browser.request("GET", f"/i/{token}")  # the redirect after the upload
        if status == 503:
            timeline.refused("candidate page")
        elif status != 200:
            raise RuntimeError(f"the page after the upload answered {status}")
        else:
            timeline.add("candidate pages", seconds)
        delay, seen = POLL_SECONDS, ""
        while not stop.wait(delay):
            status, data, seconds = browser.request("GET", f"/i/{token}/status")
            if status == 503:
                timeline.refused("candidate page")
                continue
            if status != 200:
                raise RuntimeError(f"status answered {status}")
            timeline.add("status polls", seconds)
            rows = json.loads(data)
            if not any(row["state"] in ("queued", "running") for row in rows):
                break
            # As static/app.js: fast while being checked or just changed, slower while only queued.
            states = ",".join(f"{row['version']}:{row['state']}" for row in rows)
            running = any(row["state"] == "running" for row in rows)
            delay = POLL_SECONDS if running or states != seen else min(delay * 1.5, POLL_SLOW_SECONDS)
            seen = states
    except Exception as error:  # recorded and reported, never hidden
        timeline.error("candidate", error)


def _sign_in(browser: Browser, email: str, password: str, timeline: Timeline) -> None:
    for _ in range(PATIENCE):
        csrf = open_form(browser, "/login", timeline, "sign-in", "staff page")
        body = f"email={email.replace('@', '%40')}&password={password.replace(' ', '+')}&csrf_token={csrf}"
        status, _, seconds = browser.request("POST", "/login", body.encode(), "application/x-www-form-urlencoded")
        if status == 302:
            timeline.add("sign-in", seconds)
            return
        if status != 503:
            raise RuntimeError(f"sign-in answered {status}")
        timeline.refused("staff page")
        _wait_like_a_person(browser)
    raise RuntimeError(f"sign-in still unavailable after {PATIENCE} tries")


def staff_session(port: int, email: str, password: str, stop: threading.Event, timeline: Timeline) -> None:
    """Sign in, then load the dashboard (and the invitation list for the admin) until told to stop."""
    pages = ["/dashboard"] + (["/admin/invitations"] if email.startswith("admin") else [])
    try:
        while not stop.is_set():
            browser = Browser(port)  # a new session, as after closing the browser
            _sign_in(browser, email, password, timeline)
            for _ in range(SIGN_IN_EVERY):
                if stop.is_set():
                    break
                for path in pages:
                    status, _, seconds = browser.request("GET", path)
                    if status == 503:
                        timeline.refused("staff page")
                        continue
                    if status != 200:
                        raise RuntimeError(f"{path} answered {status}")
                    timeline.add("staff pages", seconds)
                stop.wait(1.0)
    except Exception as error:
        timeline.error("staff", error)


def warm_up(port: int, token: str, workers: int) -> None:
    """Load the candidate page and sign-in page on every gunicorn worker once, untimed.

    A fresh worker reads the case from disk on its first candidate page; the numbers reported
    are for a running site, not for its first seconds.
    """
    paths = [f"/i/{token}", "/login"] * (3 * workers)
    with ThreadPoolExecutor(max_workers=2 * workers) as pool:
        list(pool.map(lambda path: Browser(port).request("GET", path), paths))
