"""What bench/deadline_night.py prints and checks once the run is over.

Latency tables per page type (server side from the access log, client side from the load
generator, with the generator's own CPU use), time until graded and the counts the app's /metrics saw; then the checks:
every upload stored exactly once and graded exactly once (one done GradeRun per submission, its
file in the store under its sha256), no token in any log, no 500, and what each fault did.
"""

from __future__ import annotations

import hashlib
import os
import time

from deadline_client import ClientResult
from deadline_faults import ConsumerFault, DatabaseFault, run_counts
from deadline_latency import access_log, server_table, table
from deadline_people import Browser, Timeline


def verify(app, instance, uploaded: dict[str, str]) -> list[str]:
    """Problems found in the database and store: each upload stored once, graded once, file intact."""
    from sqlalchemy import func, select

    from assessments.extensions import db
    from assessments.models import GradeRun, GradeStatus, Submission
    from assessments.storage import submission_store

    problems = []
    with app.app_context():
        submissions = db.session.scalars(select(Submission)).all()
        per_invitation = db.session.execute(
            select(Submission.invitation_id, func.count()).group_by(Submission.invitation_id)
        ).all()
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


def metric_total(text: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include `labels`, from the exposition text."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def report(app, instance, seeded, client: ClientResult, load_before: tuple[float, float, float]) -> list[str]:
    """Print the latency tables, the client's CPU use, grading time and counts; the problems found."""
    from sqlalchemy import func, select

    from assessments.extensions import db
    from assessments.models import GradeRun

    args = instance.args
    timeline = client.timeline
    uploaded = {token: hashlib.sha256(payload).hexdigest() for token, payload in seeded.links}
    counts = run_counts(app)
    with app.app_context():
        last_finish = db.session.scalar(select(func.max(GradeRun.finished_at)))
        db.session.remove()
    status, metrics_body, _ = Browser(instance.port).request("GET", "/metrics")
    metrics_text = metrics_body.decode()
    problems = verify(app, instance, uploaded) + timeline.errors
    if counts.get("queued", 0) + counts.get("running", 0):
        problems.append(f"grading did not finish within {args.max_minutes:g} min: {counts}")
    logged = "".join(p.read_text(errors="replace") for p in instance.logs if p.exists())
    leaked = sum(1 for token in uploaded if token in logged)
    if leaked:
        problems.append(f"{leaked} invitation tokens appear in the logs")
    upload_count = metric_total(
        metrics_text, "assess_http_request_duration_seconds_count", endpoint="candidate.upload", status="302"
    )
    graded_count = metric_total(metrics_text, "assess_grading_duration_seconds_count")
    uploads = timeline.samples["uploads"]
    if status != 200 or upload_count != len(uploads):
        problems.append(f"/metrics counted {upload_count:g} uploads, the candidates made {len(uploads)}")
    if graded_count < args.candidates:
        problems.append(f"/metrics counted {graded_count:g} finished runs for {args.candidates} submissions")
    unanswered = [line for line in logged.splitlines() if '"status": 500' in line]
    if unanswered:
        problems.append(f"{len(unanswered)} requests answered 500")
    graded_at = time.time()
    first = timeline.first_upload or graded_at
    finish = last_finish.timestamp() if last_finish else graded_at
    ended = client.began + client.wall_seconds
    requests = access_log([instance.folder / "gunicorn.log"])
    print()
    print(server_table(requests, client.began, ended))
    print(table("client side (the people's own clocks, waiting for a worker included, ms):", timeline.samples))
    print(f"load generator:              {client.describe()}")
    print(
        "machine load (1/5/15 min):   "
        + " / ".join(f"{x:.2f}" for x in load_before)
        + " before, "
        + " / ".join(f"{x:.2f}" for x in os.getloadavg())
        + " after"
    )
    print(f"upload phase:                {client.upload_phase:.1f} s for {len(uploads)} uploads")
    print(
        f"all graded:                  {finish - first:.1f} s after the first upload, "
        f"{finish - (timeline.last_upload or first):.1f} s after the last"
    )
    print(f"grade runs:                  {counts}")
    print(f"/metrics (all processes):    {upload_count:g} uploads, {graded_count:g} finished runs")
    return problems


def fault_report(
    app, instance, timeline: Timeline, consumer: ConsumerFault | None, database: DatabaseFault | None
) -> list[str]:
    """Print what each fault did and what people saw; the problems found."""
    from sqlalchemy import select

    from assessments.extensions import db
    from assessments.models import GradeRun

    problems = []
    if consumer and not consumer.killed_runs:
        problems.append("the consumer fault was never injected (consumer 0 never held a run after the threshold)")
    elif consumer:
        with app.app_context():
            attempts = {
                r.id: (r.status, r.attempts)
                for r in db.session.scalars(select(GradeRun).where(GradeRun.id.in_(consumer.killed_runs)))
            }
            db.session.remove()
        print(
            f"consumer fault:              killed consumer 0 holding runs {consumer.killed_runs}; afterwards {attempts}"
        )
        if any(state != "done" or tries < 2 for state, tries in attempts.values()):
            problems.append("a run held by the killed consumer was not re-graded after its lease")
    if database:
        print(f"database fault:              {database.describe()}")
        if database.started_at is None or database.ended_at is None:
            problems.append(f"the database fault {database.describe()}")
        with app.app_context():
            caught = {
                r.id: (r.status, r.attempts)
                for r in db.session.scalars(select(GradeRun).where(GradeRun.id.in_(database.runs_in_flight)))
            }
            db.session.remove()
        print(f"runs caught by the outage:   afterwards (state, attempts) {caught or 'none'}")
        if any(state != "done" or tries != 1 for state, tries in caught.values()):
            problems.append("a run queued or graded during the database outage needed another attempt")
        began, ended = database.started_at or 0.0, database.ended_at or 0.0
        kinds = [what for _, what in timeline.unavailable]
        near = sum(1 for when, _ in timeline.unavailable if began <= when <= ended + 10)
        through = sum(1 for when in timeline.upload_starts if began <= when <= ended)
        print(
            f"answered 503 (try again):    {kinds.count('upload')} uploads, {kinds.count('candidate page')} "
            f"candidate pages, {kinds.count('staff page')} staff pages ({near} of {len(kinds)} during the "
            f"outage or within 10 s of its end)"
        )
        print(
            f"uploads and the outage:      {timeline.upload_retries} retried by their candidate after a 503, "
            f"{through} begun during the outage went through; other failed requests: {len(timeline.errors)}"
        )
    if database or consumer:
        dead = [i for i, proc in enumerate(instance.consumers) if proc.poll() is not None]
        if dead:
            problems.append(f"consumers {dead} died during the run")
        if instance.gunicorn is not None and instance.gunicorn.poll() is not None:
            problems.append("gunicorn died during the run")
    return problems
