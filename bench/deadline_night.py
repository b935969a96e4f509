"""Benchmark: deadline night. N candidates upload within a minute while staff load dashboards.

Run: .venv/bin/python bench/deadline_night.py [--candidates 200] [--backend sqlite|postgres]
     [--fault [consumer|database|both]]

Starts, on a free loopback port and in a fresh temporary instance folder, the app under gunicorn
(several workers, logging JSON lines through assessments/gunicorn_conf.py) and two grading
consumers (`flask --app app worker`); seeds N candidates on a real case; then a load generator in a
process of its own at nice 19 (bench/deadline_client.py, which says why not wrk) has every
candidate open their link and upload a real notebook (the case's release notebook plus a line of
their own, so every file differs) at a random moment of the upload window, land back on the page
and poll the grading status as the page does until it says checked, while simulated staff sign in
and fetch dashboards, until everything is graded. It prints:
- server-side latency per page type (candidate pages, status polls, uploads, staff pages, sign-in:
  count, p50/p95/p99/max and the issue's p95 targets) from gunicorn's JSON access log, which times
  each request inside a worker;
- the same table from the people's own clocks (waiting for a free worker included), and the load
  generator's own CPU-seconds and share of the machine's cores over the run;
- the machine's load average before and after (other work on the same cores shows there);
- the time until everything is graded, and checks in the database that every upload is stored
  exactly once and graded exactly once (one done GradeRun per submission, its file in the store
  under its sha256).

`--fault` (both faults; or name one) injects, while uploads arrive and notebooks are graded:
- consumer: SIGKILL one consumer's process group while it holds a run and restart it; the lost
  run is graded again after its lease expires (a short GRADE_LEASE_SECONDS; see --lease);
- database: break every database connection the app servers and consumers hold and refuse new
  ones for --db-outage seconds (see bench/deadline_faults.py for how, on each backend). People
  who get "try again in a moment" (503) wait and retry; the report counts those answers and
  retries, and any other failure is a problem.

`--profile` samples the gunicorn workers with py-spy meanwhile and prints the functions holding the
most samples (bench/deadline_profile.py; needs `pip install -e '.[bench]'`).

`--backend postgres` uses PostgreSQL at 127.0.0.1:5432/test in a fresh schema owned by a fresh
role (both dropped afterwards) and Redis at redis://127.0.0.1:6379/<--redis-db>, flushed before and
after. Loopback only; every phase has a deadline and the run stops by itself. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from deadline_client import ClientResult
from deadline_faults import ConsumerFault, DatabaseFault, run_counts, signal_group
from deadline_people import POLL_SECONDS, Browser, warm_up
from deadline_profile import Profiler, summary
from deadline_report import fault_report, report

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STAFF_PASSWORD = "deadline night " + secrets.token_hex(4)


# --- the instance: processes, seeding and the database checks


@dataclass
class Instance:
    """A temporary instance folder and the processes serving it."""

    args: argparse.Namespace
    folder: Path
    port: int
    env: dict[str, str]
    schema: str | None = None
    role: str | None = None
    bench_database_url: str | None = None
    gunicorn: subprocess.Popen | None = None
    consumers: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def spawn(self, argv: list[str], log_name: str) -> subprocess.Popen:
        """Start a process in its own process group, its output in a log file."""
        log = self.folder / log_name
        self.logs.append(log)
        with log.open("ab") as out:
            return subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def start_consumer(self, index: int) -> subprocess.Popen:
        """Start grading consumer number `index` (replacing a dead one)."""
        proc = self.spawn(
            [str(BIN / "flask"), "--app", "app", "worker", "--workers", str(self.args.consumer_threads)],
            f"consumer-{index}.log",
        )
        if index < len(self.consumers):
            self.consumers[index] = proc
        else:
            self.consumers.append(proc)
        return proc

    def start(self) -> None:
        """Start gunicorn and the consumers; wait until /readyz answers 200."""
        self.gunicorn = self.spawn(
            [
                str(BIN / "gunicorn"),
                "-c",
                "python:assessments.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.args.gunicorn_workers),
                "--timeout",
                "120",
                # the default control socket is shared by every gunicorn of this user
                "--no-control-socket",
                "app:app",
            ],
            "gunicorn.log",
        )
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
            signal_group(proc, signal.SIGTERM)
        give_up = time.monotonic() + 15
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, give_up - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(args: argparse.Namespace) -> Instance:
    """A fresh instance folder (and schema or Redis db), its config, tables, cases and people."""
    folder = Path(tempfile.mkdtemp(prefix="deadline-night-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    env.update(
        ASSESS_INSTANCE_PATH=str(folder / "instance"),
        PROMETHEUS_MULTIPROC_DIR=str(folder / "prometheus"),
        PYTHONUNBUFFERED="1",
        OPENBLAS_NUM_THREADS="1",
        GUNICORN_THREADS=str(args.gunicorn_threads),
    )
    (folder / "prometheus").mkdir()
    (folder / "instance").mkdir()
    config = [
        # Every simulated candidate comes from 127.0.0.1: the per-address link limit is raised out of
        # reach for this instance only (not switched off, so each request is still counted as in production).
        "INVITATION_RATE_LIMIT = 1_000_000_000",
        f"SECRET_KEY = {secrets.token_hex(32)!r}",
    ]
    if args.lease > 0:
        config.append(f"GRADE_LEASE_SECONDS = {args.lease!r}")
    instance = Instance(args, folder, free_port(), env)
    if args.backend == "postgres":
        import redis
        import sqlalchemy as sa

        # The app's processes connect as a role of their own, which the database fault cuts off;
        # the bench's own reads connect as the superuser acting as that role (SET ROLE), untouched.
        name = f"bench_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(POSTGRES_ADMIN_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE ROLE "{name}" LOGIN'))
            conn.execute(sa.text(f'CREATE SCHEMA "{name}" AUTHORIZATION "{name}"'))
        engine.dispose()
        instance.schema = instance.role = name
        env["DATABASE_URL"] = (
            f"postgresql+psycopg://{name}@127.0.0.1:5432/test"
            f"?options=-csearch_path%3D{name}&application_name=deadline-night"
        )
        instance.bench_database_url = f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{name}%20-crole%3D{name}"
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
        interviewers = [
            accounts.create_user(f"interviewer{i}@bench.example", f"Interviewer {i}", Role.INTERVIEWER, STAFF_PASSWORD)
            for i in range(3)
        ]
        notebook = release_notebook(catalog.spec_for(case))
        links = []
        for i in range(n):
            _, token = invitations.invite_candidate(
                f"Candidate {i}",
                f"candidate{i}@bench.example",
                case,
                due_at=utcnow() + timedelta(hours=2),
                panel=[interviewers[i % 3]],
                actor=admin,
            )
            mine = nbformat.reads(nbformat.writes(notebook), as_version=4)
            mine.cells.append(nbformat.v4.new_markdown_cell(f"Notes of candidate {i}: {secrets.token_hex(8)}"))
            links.append((token, nbformat.writes(mine).encode()))
        _, warmup = invitations.invite_candidate(
            "Warm Up",
            "warmup@bench.example",
            case,
            due_at=utcnow() + timedelta(hours=2),
            panel=[],
            actor=admin,
            panel_later=True,
        )
        return Seeded(links, [admin.email] + [u.email for u in interviewers], warmup)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with fault-dependent defaults filled in."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--fault",
        nargs="?",
        const="both",
        choices=["consumer", "database", "both"],
        help="inject faults: kill a consumer mid-run, cut the database off, or both (the default)",
    )
    parser.add_argument(
        "--db-outage",
        type=float,
        default=8.0,
        help="seconds the database stays cut off (above SQLite's 5 s busy timeout)",
    )
    parser.add_argument("--db-fault-at", type=float, default=0.4, help="when, as a fraction of the upload window")
    parser.add_argument("--case", default="ab-readout")
    parser.add_argument("--upload-window", type=float, default=60.0, help="seconds over which uploads arrive")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument(
        "--gunicorn-threads", type=int, default=4, help="threads per gunicorn worker (GUNICORN_THREADS)"
    )
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--consumer-threads", type=int, default=1, help="grading runs at once per consumer")
    parser.add_argument(
        "--lease",
        type=float,
        default=0.0,
        help="GRADE_LEASE_SECONDS for the instance (default: the app's; with --fault: 90, well above "
        "the ~10-30 s a release notebook takes here, so no live run is taken over)",
    )
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--max-minutes", type=float, default=30.0, help="give up grading after this long")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder (logs) afterwards")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the gunicorn workers with py-spy during the run and print where they spend their time "
        "(bench/deadline_profile.py; implies --keep)",
    )
    args = parser.parse_args(argv)
    if args.fault and args.lease <= 0:
        args.lease = 90.0
    args.keep = args.keep or args.profile
    return args


def write_plan(instance: Instance, seeded: Seeded) -> Path:
    """The client's plan: the port, the staff, and each candidate's moment, token and notebook file."""
    args = instance.args
    payloads = instance.folder / "payloads"
    payloads.mkdir()
    candidates = []
    for i, (token, payload) in enumerate(seeded.links):
        path = payloads / f"{i}.ipynb"
        path.write_bytes(payload)
        candidates.append((random.uniform(0, args.upload_window), token, str(path)))
    plan = {"port": instance.port, "staff": seeded.staff, "password": STAFF_PASSWORD, "candidates": candidates}
    path = instance.folder / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def start_client(instance: Instance, plan: Path) -> subprocess.Popen:
    """The load generator in a process of its own at the lowest priority (bench/deadline_client.py)."""
    return subprocess.Popen(
        [
            "nice",
            "-n",
            "19",
            sys.executable,
            str(Path(__file__).with_name("deadline_client.py")),
            str(plan),
            str(instance.folder / "client-result.json"),
        ],
        cwd=Path(__file__).parent,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def drive(app, instance: Instance, seeded: Seeded) -> tuple[ClientResult, ConsumerFault | None, DatabaseFault | None]:
    """Candidates upload and staff browse (faults injected as asked) until everything is graded."""
    args = instance.args
    stop_fault = threading.Event()
    database = None
    if args.fault in ("database", "both"):
        database = DatabaseFault(
            app,
            args.backend,
            time.time() + args.db_fault_at * args.upload_window,
            args.db_outage,
            admin_url=POSTGRES_ADMIN_URL,
            role=instance.role,
            sqlite_path=instance.folder / "instance" / "assessments.db",
        )
    consumer = (
        ConsumerFault(app, instance, max(1, args.candidates // 4), stop_fault, after=database)
        if args.fault in ("consumer", "both")
        else None
    )
    profiler = Profiler(instance.gunicorn.pid, instance.folder / "profile.txt") if args.profile else None
    client = start_client(instance, write_plan(instance, seeded))
    for fault in (consumer, database):
        if fault:
            fault.start()
    try:
        # Staff keep browsing and candidates keep polling while the queue drains: pages are
        # measured with grading at full speed, not only while uploads arrive.
        line = client.stdout.readline() if client.stdout else ""
        if not line.startswith("uploads done"):
            raise RuntimeError(f"the load generator stopped before the uploads were done: {line!r}")
        if database:
            database.join(timeout=args.db_outage + 60)
        deadline = time.monotonic() + args.max_minutes * 60
        while time.monotonic() < deadline:
            counts = run_counts(app)
            if counts.get("queued", 0) + counts.get("running", 0) == 0:
                break
            time.sleep(1.0)
        # A last round of polls sees the newest runs checked.
        time.sleep(POLL_SECONDS + 1.0)
    finally:
        stop_fault.set()
        if profiler:
            profiler.stop()
        if client.stdin:
            client.stdin.write("stop\n")
            client.stdin.close()
        client.wait(timeout=120)
    if client.returncode != 0:
        raise RuntimeError(f"the load generator failed with exit status {client.returncode}")
    return ClientResult.read(instance.folder / "client-result.json"), consumer, database


def clean_up(app, instance: Instance) -> None:
    """Stop the processes; drop the PostgreSQL schema and role and flush Redis; remove the folder."""
    instance.stop()
    if instance.schema:
        import redis
        import sqlalchemy as sa

        with app.app_context():
            from assessments.extensions import db

            db.engine.dispose()
        engine = sa.create_engine(POSTGRES_ADMIN_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{instance.schema}" CASCADE'))
            conn.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :role"),
                {"role": instance.role},
            )
            conn.execute(sa.text(f'DROP ROLE "{instance.role}"'))
        engine.dispose()
        redis.Redis.from_url(instance.env["REDIS_URL"]).flushdb()
    if instance.args.keep:
        print(f"instance folder kept: {instance.folder}")
    else:
        shutil.rmtree(instance.folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the exit status is 1 when a correctness check failed."""
    args = parse_args(argv)
    random.seed(7)
    instance = prepare(args)
    os.environ["ASSESS_INSTANCE_PATH"] = instance.env["ASSESS_INSTANCE_PATH"]
    if instance.bench_database_url:
        os.environ["DATABASE_URL"] = instance.bench_database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    if "REDIS_URL" in instance.env:
        os.environ["REDIS_URL"] = instance.env["REDIS_URL"]
    from assessments import create_app

    app = create_app()
    ok = False
    try:
        seeded = seed(app, args.candidates, args.case)
        instance.start()
        warm_up(instance.port, seeded.warmup_token, args.gunicorn_workers)
        print(
            f"{args.candidates} candidates on {args.case}; backend {args.backend}; "
            f"gunicorn {args.gunicorn_workers} workers x {args.gunicorn_threads} threads, "
            f"{args.consumers} consumers x{args.consumer_threads}; uploads within {args.upload_window:g} s"
            + (f"; faults: {args.fault}, lease {args.lease:g} s" if args.fault else ""),
            flush=True,
        )
        load_before = os.getloadavg()
        client, consumer, database = drive(app, instance, seeded)
        problems = report(app, instance, seeded, client, load_before)
        problems += fault_report(app, instance, client.timeline, consumer, database)
        if args.profile:
            print("\n" + summary(instance.folder / "profile.txt"))
        print(
            "\ncorrectness:                 "
            + ("every upload stored once and graded once" if not problems else f"{len(problems)} problem(s)")
        )
        for problem in problems[:20]:
            print(f"  - {problem}")
        ok = not problems
    finally:
        clean_up(app, instance)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
