"""Benchmark: deadline night. N candidates upload within a minute while staff load dashboards.

Run: .venv/bin/python bench/deadline_night.py [--candidates 200] [--backend sqlite|postgres] [--fault]

Starts, on a free loopback port and in a fresh temporary instance folder, the app under gunicorn
(several workers) and two grading consumers (`flask --app app worker`); seeds N candidates on a
real case; has every candidate open their link and upload a real notebook (the case's release
notebook plus a line of their own, so every file differs) at a random moment of the upload
window, while simulated staff sign in and fetch dashboards; then waits for grading. It prints
upload and page latency percentiles and the time until everything is graded, and checks in the
database that every upload is stored exactly once and graded exactly once (one done GradeRun per
submission, its file in the store under its sha256). `--fault` SIGKILLs one consumer's process
group while it holds a run, restarts it, and checks that the lost run is graded after its lease
expires (the instance is configured with a short GRADE_LEASE_SECONDS; see --lease).

`--backend postgres` uses PostgreSQL at postgresql+psycopg://postgres@127.0.0.1:5432/test in a fresh
schema (dropped afterwards) and Redis at redis://127.0.0.1:6379/<--redis-db>, flushed before and
after. Loopback only; every phase has a deadline and the run stops by itself. Not a test.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STAFF_PASSWORD = "deadline night " + secrets.token_hex(4)
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


# --- a minimal HTTP client: one connection, cookies kept, redirects not followed


class Browser:
    """One person's connection to the app on loopback, with their session cookie."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str | None = None) -> tuple[int, bytes, float]:
        """Send one request; the status, body and seconds taken."""
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
        return response.status, data, seconds

    def csrf_token(self, path: str) -> tuple[str, float]:
        """Load a page holding a form; its CSRF token and the seconds the page took."""
        status, data, seconds = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path.split('/')[1]}... answered {status}")
        match = CSRF_FIELD.search(data.decode())
        if not match:
            raise RuntimeError("no CSRF token on the page")
        return match.group(1), seconds


def multipart(fields: dict[str, str], filename: str, payload: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with the notebook file and plain fields."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="notebook"; filename="{filename}"\r\n'
                 "Content-Type: application/x-ipynb+json\r\n\r\n".encode() + payload + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# --- the instance: processes, seeding and the database checks


@dataclass
class Instance:
    """A temporary instance folder and the processes serving it."""

    args: argparse.Namespace
    folder: Path
    port: int
    env: dict[str, str]
    schema: str | None = None
    gunicorn: subprocess.Popen | None = None
    consumers: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def spawn(self, argv: list[str], log_name: str) -> subprocess.Popen:
        """Start a process in its own process group, its output in a log file."""
        log = self.folder / log_name
        self.logs.append(log)
        with log.open("ab") as out:
            return subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)

    def start_consumer(self, index: int) -> subprocess.Popen:
        """Start grading consumer number `index` (replacing a dead one)."""
        proc = self.spawn([str(BIN / "flask"), "--app", "app", "worker", "--workers", str(self.args.consumer_threads)],
                          f"consumer-{index}.log")
        if index < len(self.consumers):
            self.consumers[index] = proc
        else:
            self.consumers.append(proc)
        return proc

    def start(self) -> None:
        """Start gunicorn and the consumers; wait until /readyz answers 200."""
        self.gunicorn = self.spawn([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers",
                                    str(self.args.gunicorn_workers), "--timeout", "120",
                                    # the default control socket is shared by every gunicorn of this user
                                    "--no-control-socket", "app:app"], "gunicorn.log")
        for index in range(self.args.consumers):
            self.start_consumer(index)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                status, body, _ = Browser(self.port).request("GET", "/readyz")
                if status == 200:
                    return
            except OSError:
                pass
            if self.gunicorn.poll() is not None:
                break
            time.sleep(0.5)
        raise RuntimeError(f"the app did not become ready; see {self.folder / 'gunicorn.log'}")

    def stop(self) -> None:
        """Stop every process this bench started: SIGTERM to each group, SIGKILL to stragglers."""
        procs = [p for p in [self.gunicorn, *self.consumers] if p is not None]
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        give_up = time.monotonic() + 15
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, give_up - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(args: argparse.Namespace) -> Instance:
    """A fresh instance folder (and schema or Redis db), its config, tables, cases and people."""
    folder = Path(tempfile.mkdtemp(prefix="deadline-night-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    env.update(ASSESS_INSTANCE_PATH=str(folder / "instance"), PROMETHEUS_MULTIPROC_DIR=str(folder / "prometheus"),
               PYTHONUNBUFFERED="1", OPENBLAS_NUM_THREADS="1")
    (folder / "prometheus").mkdir()
    (folder / "instance").mkdir()
    config = [
        # Every simulated candidate comes from 127.0.0.1: the per-address link limit would refuse them.
        "INVITATION_RATE_LIMIT = 0",
        f"SECRET_KEY = {secrets.token_hex(32)!r}",
    ]
    if args.lease > 0:
        config.append(f"GRADE_LEASE_SECONDS = {args.lease!r}")
    instance = Instance(args, folder, free_port(), env)
    if args.backend == "postgres":
        import redis
        import sqlalchemy as sa

        instance.schema = f"bench_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(POSTGRES_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{instance.schema}"'))
        engine.dispose()
        config.append("SQLALCHEMY_ENGINE_OPTIONS = {'pool_pre_ping': True, 'connect_args': "
                      f"{{'options': '-csearch_path={instance.schema}'}}}}")
        env["DATABASE_URL"] = POSTGRES_URL
        env["REDIS_URL"] = f"redis://127.0.0.1:6379/{args.redis_db}"
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    (folder / "instance" / "config.py").write_text("\n".join(config) + "\n")
    return instance


@dataclass(frozen=True)
class Seeded:
    """Who takes part: candidate links with their notebooks, and staff sign-ins."""

    links: list[tuple[str, bytes]]
    staff: list[str]
    warmup_token: str


def seed(app, n: int, case_slug: str) -> Seeded:
    """Create the tables, sync the real cases, and create staff, candidates and invitations."""
    import nbformat

    from assessments.content.notebook import release_notebook
    from assessments.extensions import db
    from assessments.models import Role
    from assessments.models.types import utcnow
    from assessments.services import accounts, catalog, invitations

    with app.app_context():
        db.create_all()
        catalog.sync_cases()
        case = catalog.find_current_case(case_slug)
        admin = accounts.create_user("admin@bench.example", "Bench Admin", Role.ADMIN, STAFF_PASSWORD)
        interviewers = [accounts.create_user(f"interviewer{i}@bench.example", f"Interviewer {i}", Role.INTERVIEWER,
                                             STAFF_PASSWORD) for i in range(3)]
        notebook = release_notebook(catalog.spec_for(case))
        links = []
        for i in range(n):
            candidate = invitations.create_candidate(f"Candidate {i}", f"candidate{i}@bench.example", admin)
            _, token = invitations.issue_invitation(candidate, case, due_at=utcnow() + timedelta(hours=2),
                                                    panel=[interviewers[i % 3]], actor=admin)
            mine = nbformat.reads(nbformat.writes(notebook), as_version=4)
            mine.cells.append(nbformat.v4.new_markdown_cell(f"Notes of candidate {i}: {secrets.token_hex(8)}"))
            links.append((token, nbformat.writes(mine).encode()))
        candidate = invitations.create_candidate("Warm Up", "warmup@bench.example", admin)
        _, warmup = invitations.issue_invitation(candidate, case, due_at=utcnow() + timedelta(hours=2),
                                                 panel=[], actor=admin)
        return Seeded(links, [admin.email] + [u.email for u in interviewers], warmup)


@dataclass
class Timeline:
    """Latencies measured by the simulated people (seconds), guarded by a lock."""

    uploads: list[float] = field(default_factory=list)
    candidate_pages: list[float] = field(default_factory=list)
    staff_pages: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first_upload: float | None = None
    last_upload: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, bucket: list[float], seconds: float) -> None:
        with self.lock:
            bucket.append(seconds)


def candidate_session(port: int, token: str, payload: bytes, timeline: Timeline) -> None:
    """Open the link, upload the notebook, load the receipt and poll the status a few times."""
    browser = Browser(port)
    try:
        csrf, page_seconds = browser.csrf_token(f"/i/{token}")
        timeline.add(timeline.candidate_pages, page_seconds)
        body, content_type = multipart({"csrf_token": csrf}, "answers.ipynb", payload)
        started = time.time()
        status, _, seconds = browser.request("POST", f"/i/{token}", body, content_type)
        if status != 302:
            raise RuntimeError(f"upload answered {status}")
        timeline.add(timeline.uploads, seconds)
        with timeline.lock:
            timeline.first_upload = min(timeline.first_upload or started, started)
            timeline.last_upload = max(timeline.last_upload or 0.0, started + seconds)
        for path in (f"/i/{token}", f"/i/{token}/status", f"/i/{token}/status"):
            status, _, seconds = browser.request("GET", path)
            timeline.add(timeline.candidate_pages, seconds)
            time.sleep(2.0)
    except Exception as error:  # recorded and reported, never hidden
        with timeline.lock:
            timeline.errors.append(f"candidate: {type(error).__name__}: {error}")


def staff_session(port: int, email: str, stop: threading.Event, timeline: Timeline) -> None:
    """Sign in, then load the dashboard (and the invitation list for the admin) until told to stop."""
    browser = Browser(port)
    try:
        csrf, _ = browser.csrf_token("/login")
        body = f"email={email.replace('@', '%40')}&password={STAFF_PASSWORD.replace(' ', '+')}&csrf_token={csrf}"
        status, _, _ = browser.request("POST", "/login", body.encode(), "application/x-www-form-urlencoded")
        if status != 302:
            raise RuntimeError(f"sign-in answered {status}")
        pages = ["/dashboard"] + (["/admin/invitations"] if email.startswith("admin") else [])
        while not stop.is_set():
            for path in pages:
                status, _, seconds = browser.request("GET", path)
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}")
                timeline.add(timeline.staff_pages, seconds)
            stop.wait(1.0)
    except Exception as error:
        with timeline.lock:
            timeline.errors.append(f"staff: {type(error).__name__}: {error}")


def warm_up(port: int, token: str, workers: int) -> None:
    """Load the candidate page and sign-in page on every gunicorn worker once, untimed.

    A fresh worker reads the case from disk on its first candidate page; the numbers reported
    are for a running site, not for its first seconds.
    """
    paths = [f"/i/{token}", "/login"] * (3 * workers)
    with ThreadPoolExecutor(max_workers=2 * workers) as pool:
        list(pool.map(lambda path: Browser(port).request("GET", path), paths))


def run_counts(app) -> dict[str, int]:
    """Grade runs by state, from the database."""
    from sqlalchemy import func, select

    from assessments.extensions import db
    from assessments.models import GradeRun

    with app.app_context():
        counts = dict(db.session.execute(select(GradeRun.status, func.count()).group_by(GradeRun.status)).all())
        db.session.remove()
    return counts


def running_claims(app) -> list[tuple[int, str]]:
    """Runs being graded now and who holds them."""
    from sqlalchemy import select

    from assessments.extensions import db
    from assessments.models import GradeRun, GradeStatus

    with app.app_context():
        rows = db.session.execute(select(GradeRun.id, GradeRun.claimed_by)
                                  .where(GradeRun.status == GradeStatus.RUNNING)).all()
        db.session.remove()
    return [(r[0], r[1] or "") for r in rows]


def verify(app, instance: Instance, uploaded: dict[str, str]) -> list[str]:
    """Problems found in the database and store: each upload stored once, graded once, file intact."""
    import hashlib

    from sqlalchemy import func, select

    from assessments.extensions import db
    from assessments.models import GradeRun, GradeStatus, Submission
    from assessments.storage import submission_store

    problems = []
    with app.app_context():
        submissions = db.session.scalars(select(Submission)).all()
        per_invitation = db.session.execute(select(Submission.invitation_id, func.count())
                                            .group_by(Submission.invitation_id)).all()
        if len(submissions) != len(uploaded):
            problems.append(f"{len(submissions)} submissions stored for {len(uploaded)} uploads")
        if any(count != 1 for _, count in per_invitation):
            problems.append("an invitation holds more than one submission (an upload stored twice)")
        if {s.sha256 for s in submissions} != set(uploaded.values()):
            problems.append("the stored fingerprints differ from the uploaded files")
        store = submission_store()
        for submission in submissions:
            try:
                if hashlib.sha256(store.get(submission.sha256)).hexdigest() != submission.sha256:
                    problems.append(f"submission {submission.id}: stored file does not match its sha256")
            except FileNotFoundError:
                problems.append(f"submission {submission.id}: file missing from the store")
            runs = db.session.scalars(select(GradeRun).where(GradeRun.submission_id == submission.id)).all()
            done = [r for r in runs if r.status == GradeStatus.DONE]
            if len(runs) != 1 or len(done) != 1:
                states = ",".join(r.status for r in runs)
                problems.append(f"submission {submission.id}: runs [{states}], not exactly one done run")
        db.session.remove()
    if instance.args.backend == "sqlite":
        files = [p for p in (instance.folder / "instance" / "submissions").rglob("*") if p.is_file()]
        if len(files) != len(uploaded):
            problems.append(f"{len(files)} files in the store for {len(uploaded)} uploads")
    return problems


def percentiles(values: list[float]) -> str:
    """p50 / p90 / p99 / max in milliseconds (nearest rank)."""
    if not values:
        return "no samples"
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))] * 1000

    return (f"p50 {rank(0.50):7.0f}  p90 {rank(0.90):7.0f}  p99 {rank(0.99):7.0f}  max {ordered[-1] * 1000:7.0f} ms"
            f"  (n={len(ordered)})")


def metric_total(text: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include `labels`, from the exposition text."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


class FaultInjector(threading.Thread):
    """Kills consumer 0's process group while it holds a run (once enough runs are done), restarts it."""

    def __init__(self, app, instance: Instance, after_done: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.app, self.instance, self.after_done, self.stop_event = app, instance, after_done, stop
        self.killed_runs: list[int] = []
        self.killed_at: float | None = None

    def run(self) -> None:
        while not self.stop_event.wait(0.3):
            if run_counts(self.app).get("done", 0) < self.after_done:
                continue
            victim = self.instance.consumers[0]
            held = [run_id for run_id, worker in running_claims(self.app) if worker.endswith(f":{victim.pid}")]
            if not held:
                continue
            _signal_group(victim, signal.SIGKILL)
            victim.wait(timeout=10)
            self.killed_runs, self.killed_at = held, time.time()
            self.instance.start_consumer(0)
            return


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the exit status is 1 when a correctness check failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--fault", action="store_true", help="SIGKILL a consumer mid-run and restart it")
    parser.add_argument("--case", default="ab-readout")
    parser.add_argument("--upload-window", type=float, default=60.0, help="seconds over which uploads arrive")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--consumer-threads", type=int, default=1, help="grading runs at once per consumer")
    parser.add_argument("--lease", type=float, default=0.0,
                        help="GRADE_LEASE_SECONDS for the instance (default: the app's; with --fault: 90, well above "
                             "the ~10-30 s a release notebook takes here, so no live run is taken over)")
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--max-minutes", type=float, default=30.0, help="give up grading after this long")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder (logs) afterwards")
    args = parser.parse_args(argv)
    if args.fault and args.lease <= 0:
        args.lease = 90.0
    random.seed(7)
    instance = prepare(args)
    os.environ.update({k: instance.env[k] for k in ("ASSESS_INSTANCE_PATH",)})
    for key in ("DATABASE_URL", "REDIS_URL"):
        if key in instance.env:
            os.environ[key] = instance.env[key]
    from assessments import create_app

    app = create_app()
    ok = False
    try:
        seeded = seed(app, args.candidates, args.case)
        instance.start()
        warm_up(instance.port, seeded.warmup_token, args.gunicorn_workers)
        print(f"{args.candidates} candidates on {args.case}; backend {args.backend}; gunicorn x{args.gunicorn_workers}, "
              f"{args.consumers} consumers x{args.consumer_threads}; uploads within {args.upload_window:g} s"
              + (f"; fault injection, lease {args.lease:g} s" if args.fault else ""), flush=True)
        timeline, stop_staff, stop_fault = Timeline(), threading.Event(), threading.Event()
        staff = [threading.Thread(target=staff_session, args=(instance.port, e, stop_staff, timeline), daemon=True)
                 for e in seeded.staff]
        for thread in staff:
            thread.start()
        fault = FaultInjector(app, instance, max(1, args.candidates // 4), stop_fault) if args.fault else None
        if fault:
            fault.start()
        import hashlib

        uploaded = {token: hashlib.sha256(payload).hexdigest() for token, payload in seeded.links}
        schedule = sorted((random.uniform(0, args.upload_window), token, payload) for token, payload in seeded.links)
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=min(48, len(schedule) or 1)) as pool:
            for at, token, payload in schedule:
                time.sleep(max(0.0, began + at - time.monotonic()))
                pool.submit(candidate_session, instance.port, token, payload, timeline)
        stop_staff.set()
        for thread in staff:
            thread.join(timeout=60)
        upload_phase = time.monotonic() - began
        deadline = time.monotonic() + args.max_minutes * 60
        counts = run_counts(app)
        while time.monotonic() < deadline:
            counts = run_counts(app)
            if counts.get("queued", 0) + counts.get("running", 0) == 0:
                break
            time.sleep(1.0)
        graded_at = time.time()
        stop_fault.set()
        from sqlalchemy import func, select

        from assessments.extensions import db
        from assessments.models import GradeRun

        with app.app_context():
            last_finish = db.session.scalar(select(func.max(GradeRun.finished_at)))
            db.session.remove()
        status, metrics_body, _ = Browser(instance.port).request("GET", "/metrics")
        metrics_text = metrics_body.decode()
        problems = verify(app, instance, uploaded)
        problems += timeline.errors
        if counts.get("queued", 0) + counts.get("running", 0):
            problems.append(f"grading did not finish within {args.max_minutes:g} min: {counts}")
        logged = "".join(p.read_text(errors="replace") for p in instance.logs if p.exists())
        leaked = sum(1 for token in uploaded if token in logged)
        if leaked:
            problems.append(f"{leaked} invitation tokens appear in the logs")
        upload_count = metric_total(metrics_text, "assess_http_request_duration_seconds_count",
                                    endpoint="candidate.upload", status="302")
        graded_count = metric_total(metrics_text, "assess_grading_duration_seconds_count")
        if status != 200 or upload_count != len(timeline.uploads):
            problems.append(f"/metrics counted {upload_count:g} uploads, the candidates made {len(timeline.uploads)}")
        if graded_count < args.candidates:
            problems.append(f"/metrics counted {graded_count:g} finished runs for {args.candidates} submissions")

        first = timeline.first_upload or graded_at
        finish = last_finish.timestamp() if last_finish else graded_at
        print(f"\nuploads (POST /i/<token>):   {percentiles(timeline.uploads)}")
        print(f"candidate pages (GET):       {percentiles(timeline.candidate_pages)}")
        print(f"staff pages (dashboards):    {percentiles(timeline.staff_pages)}")
        print(f"upload phase:                {upload_phase:.1f} s for {len(timeline.uploads)} uploads")
        print(f"all graded:                  {finish - first:.1f} s after the first upload, "
              f"{finish - (timeline.last_upload or first):.1f} s after the last")
        print(f"grade runs:                  {counts}")
        print(f"/metrics (all processes):    {upload_count:g} uploads, {graded_count:g} finished runs")
        if fault:
            if not fault.killed_runs:
                problems.append("the fault was never injected (consumer 0 never held a run after the threshold)")
            else:
                with app.app_context():
                    attempts = {r.id: (r.status, r.attempts) for r in db.session.scalars(
                        select(GradeRun).where(GradeRun.id.in_(fault.killed_runs)))}
                    db.session.remove()
                print(f"fault:                       killed consumer 0 holding runs {fault.killed_runs}; "
                      f"afterwards {attempts}")
                if any(state != "done" or tries < 2 for state, tries in attempts.values()):
                    problems.append("a run held by the killed consumer was not re-graded after its lease")
        print("\ncorrectness:                 " + ("every upload stored once and graded once" if not problems
                                                  else f"{len(problems)} problem(s)"))
        for problem in problems[:20]:
            print(f"  - {problem}")
        ok = not problems
    finally:
        instance.stop()
        if instance.schema:
            import redis
            import sqlalchemy as sa

            engine = sa.create_engine(POSTGRES_URL)
            with app.app_context():
                from assessments.extensions import db

                db.engine.dispose()
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{instance.schema}" CASCADE'))
            engine.dispose()
            redis.Redis.from_url(instance.env["REDIS_URL"]).flushdb()
        if args.keep:
            print(f"instance folder kept: {instance.folder}")
        else:
            shutil.rmtree(instance.folder, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
