"""Practice for mentees: visibility, own seeds, the rate limit, the solution unlock, review scoring."""

from __future__ import annotations

import io
import re
import shutil
import sys
import threading
import zipfile
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from flask import Flask
from prometheus_client import REGISTRY
from sqlalchemy import select

from assessments.content.notebook import release_notebook, solution_notebook
from assessments.errors import NotFound
from assessments.extensions import db
from assessments.models import AuditEvent, GradeRun, GradeStatus, Practice, PracticeAttempt, User
from assessments.models.practice import AttemptStatus
from assessments.models.types import utcnow
from assessments.services import catalog, grade_runs, practice, practice_solutions
from assessments.services import review_exercise as review

ROOT = Path(__file__).resolve().parents[1]
REVIEW = "review-leakage"
HIRING_ONLY_BRIEF = "Hiring-only brief: secret interview material."


def use_practice_cases(app: Flask, root: Path) -> None:
    """Serve the fixture case, a hiring-only copy of it and the methodology-review case."""
    shutil.copytree(ROOT / "tests" / "fixtures" / "cases" / "tiny-hiring", root / "tiny-hiring")
    only = root / "tiny-hiring-only"
    shutil.copytree(ROOT / "tests" / "fixtures" / "cases" / "tiny-hiring", only)
    toml = (only / "case.toml").read_text()
    toml = toml.replace('slug = "tiny-hiring"', 'slug = "tiny-hiring-only"')
    toml = toml.replace('audience = ["hiring", "practice"]', 'audience = ["hiring"]')
    toml = toml.replace('title = "Tiny hiring case', 'title = "Hiring-only tiny case')
    (only / "case.toml").write_text(toml)
    (only / "brief.md").write_text(f"# Hiring only\n\n{HIRING_ONLY_BRIEF}\n")
    shutil.copytree(ROOT / "cases" / REVIEW, root / REVIEW)
    app.config["CASES_DIR"] = str(root)
    with app.app_context():
        catalog.sync_cases()


@pytest.fixture
def cases(app: Flask, tmp_path: Path) -> None:
    """The practice fixture cases, synced."""
    use_practice_cases(app, tmp_path / "cases")


def _user(app: Flask, email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email))
    assert user is not None
    return user


def _planted(app: Flask, seed: int) -> list[str]:
    """The planted labels, read straight from the generator's cells (not through the answer key)."""
    spec = catalog.case_specs()[REVIEW]
    cells = sys.modules[spec.generate_fn.__module__].flawed_cells(seed)
    return sorted(f"{c['label']}:{c['defect']}" for c in cells if c["defect"])


def _flags(labels: list[str]) -> list[review.ReviewFlag]:
    return [review.ReviewFlag(*label.split(":", 1)) for label in labels]


def test_catalogue_lists_practice_cases_with_effort_skills_and_best_score(app, client, auth, make_user, cases):
    mentee = make_user("mentee")
    auth.login(mentee.email)
    page = client.get("/practice/").get_data(as_text=True)
    assert "Tiny hiring case" in page
    assert "10-20 minutes" in page
    assert "Evaluation rigor &amp; statistics" in page and "Communication &amp; stakeholder management" in page
    assert "Methodology review" in page
    assert "Hiring-only tiny case" not in page

    with app.app_context():
        own = practice.start_practice(_user(app, mentee.email), REVIEW, seed=11)
        planted = _planted(app, practice.data_seed(own))
        practice.submit_review_attempt(own, _flags(planted[:1]))
    page = client.get("/practice/").get_data(as_text=True)
    share = round(100 / len(planted))
    assert re.search(rf"<td>1</td>\s*<td>{share}%</td>", page), "one attempt and its best share"


def test_hiring_only_case_its_brief_data_and_solution_are_invisible_to_mentees(app, client, auth, make_user, cases):
    mentee = make_user("mentee")
    auth.login(mentee.email)
    for method, url in [
        ("GET", "/practice/cases/tiny-hiring-only"),
        ("POST", "/practice/cases/tiny-hiring-only/start"),
        ("GET", "/practice/cases/tiny-hiring-only/bundle"),
        ("GET", "/practice/cases/tiny-hiring-only/solution"),
        ("POST", "/practice/cases/tiny-hiring-only/unlock"),
        ("GET", "/practice/cases/tiny-hiring-only/review"),
    ]:
        response = client.open(url, method=method)
        assert response.status_code == 404, url
        assert HIRING_ONLY_BRIEF not in response.get_data(as_text=True)
    # The same answer as for a case that does not exist: nothing tells that it is there.
    unknown = client.get("/practice/cases/no-such-case").get_data(as_text=True)
    hidden = client.get("/practice/cases/tiny-hiring-only").get_data(as_text=True)
    assert unknown.replace("no-such-case", "X") == hidden.replace("tiny-hiring-only", "X")
    with app.app_context():
        with pytest.raises(NotFound):
            practice.start_practice(_user(app, mentee.email), "tiny-hiring-only")
        assert db.session.scalar(select(Practice)) is None


def test_each_mentee_gets_their_own_seed_and_bundle(app, client, auth, make_user, cases):
    first, second = make_user("mentee"), make_user("mentee")
    seeds = []
    for person in (first, second):
        auth.login(person.email)
        assert client.post("/practice/cases/tiny-hiring/start").status_code == 302
        assert client.post("/practice/cases/tiny-hiring/start").status_code == 302  # idempotent
        response = client.get("/practice/cases/tiny-hiring/bundle")
        assert response.mimetype == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
        seeds.append(names[0].split("/")[0])
        auth.logout()
    assert seeds[0] != seeds[1]
    with app.app_context():
        assert len(db.session.scalars(select(Practice)).all()) == 2


def test_a_mentee_cannot_open_another_mentees_attempt(app, client, auth, make_user, cases):
    owner, other = make_user("mentee"), make_user("mentee")
    with app.app_context():
        own = practice.start_practice(_user(app, owner.email), REVIEW, seed=3)
        attempt = practice.submit_review_attempt(own, _flags(_planted(app, practice.data_seed(own))[:2]))
        attempt_id = attempt.id
    auth.login(other.email)
    missing = client.get("/practice/attempts/999999")
    theirs = client.get(f"/practice/attempts/{attempt_id}")
    assert theirs.status_code == missing.status_code == 404
    auth.logout()
    auth.login(owner.email)
    assert client.get(f"/practice/attempts/{attempt_id}").status_code == 200


def test_rate_limit_refuses_an_attempt_too_soon_and_says_when_to_try_again(app, make_user, cases):
    mentee = make_user("mentee")
    app.config.update(PRACTICE_MIN_SECONDS_BETWEEN_ATTEMPTS=300, PRACTICE_ATTEMPTS_PER_DAY=10)
    start = utcnow().replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
    with app.app_context():
        own = practice.start_practice(_user(app, mentee.email), REVIEW, seed=5)
        flags = _flags(_planted(app, practice.data_seed(own))[:1])
        practice.submit_review_attempt(own, flags, now=start)
        with pytest.raises(practice.PracticeLimited) as refused:
            practice.submit_review_attempt(own, flags, now=start + timedelta(seconds=60))
        assert refused.value.retry_at == start + timedelta(minutes=5)
        assert "try again at 09:05 UTC" in refused.value.message
        assert "in 4 minutes" in refused.value.message
        assert len(own.attempts) == 1, "a refused attempt is not graded or stored"
        practice.submit_review_attempt(own, flags, now=start + timedelta(minutes=5))
        assert len(own.attempts) == 2


def test_daily_cap_frees_up_a_day_after_the_oldest_attempt(app, make_user, cases):
    mentee = make_user("mentee")
    app.config.update(PRACTICE_MIN_SECONDS_BETWEEN_ATTEMPTS=0, PRACTICE_ATTEMPTS_PER_DAY=2)
    start = utcnow() - timedelta(days=2)
    with app.app_context():
        own = practice.start_practice(_user(app, mentee.email), REVIEW, seed=5)
        flags = _flags(_planted(app, practice.data_seed(own))[:1])
        practice.submit_review_attempt(own, flags, now=start)
        practice.submit_review_attempt(own, flags, now=start + timedelta(hours=1))
        with pytest.raises(practice.PracticeLimited) as refused:
            practice.submit_review_attempt(own, flags, now=start + timedelta(hours=2))
        assert refused.value.retry_at == start + timedelta(days=1)
        assert "2 a day" in refused.value.message
        practice.submit_review_attempt(own, flags, now=start + timedelta(days=1))


def test_rate_limit_message_is_shown_on_the_review_page(app, client, auth, make_user, cases):
    mentee = make_user("mentee")
    auth.login(mentee.email)
    client.post(f"/practice/cases/{REVIEW}/start")
    with app.app_context():
        seed = practice.data_seed(db.session.scalar(select(Practice)))
        label, defect = _planted(app, seed)[0].split(":")
    form = {f"defect_{label}": defect, f"note_{label}": "because"}
    assert client.post(f"/practice/cases/{REVIEW}/review", data=form).status_code == 302
    again = client.post(f"/practice/cases/{REVIEW}/review", data=form)
    assert again.status_code == 429
    assert "You can try again at" in again.get_data(as_text=True)


def test_feedback_never_opens_the_solution_until_the_stated_number_of_graded_attempts(
    app, client, auth, make_user, cases
):
    app.config.update(PRACTICE_MIN_SECONDS_BETWEEN_ATTEMPTS=0, PRACTICE_SOLUTION_AFTER_ATTEMPTS=3)
    mentee = make_user("mentee")
    auth.login(mentee.email)
    client.post(f"/practice/cases/{REVIEW}/start")
    locked = client.get(f"/practice/cases/{REVIEW}/solution")
    assert locked.status_code == 403
    assert "opens by itself after 3 more graded attempts" in locked.get_data(as_text=True)
    with app.app_context():
        own = db.session.scalar(select(Practice))
        planted = _planted(app, practice.data_seed(own))
        first = practice.submit_review_attempt(own, _flags(planted[:1]))
        second = practice.submit_review_attempt(own, _flags(planted[:2]))
        assert own.solution_unlocked_at is None, "feedback on an attempt never opens the solution by itself"
        first_id = first.id
        assert not second.after_solution
    feedback = client.get(f"/practice/attempts/{first_id}").get_data(as_text=True)
    assert "The planted defects, explained" not in feedback and "How to fix it." not in feedback
    assert "opens by itself after 1 more graded attempt" in feedback
    assert client.get(f"/practice/cases/{REVIEW}/solution").status_code == 403
    with app.app_context():
        own = db.session.scalar(select(Practice))
        third = practice.submit_review_attempt(own, _flags(planted))
        assert not third.after_solution, "the attempt that opens the solution was made without it"
        assert own.solution_unlock_reason == "after-attempts"
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "practice.solution_unlocked"))
        assert event.details == {"reason": "after-attempts", "attempt_id": third.id}
        fourth = practice.submit_review_attempt(own, _flags(planted))
        assert fourth.after_solution and fourth.status == AttemptStatus.DONE, "still graded, and marked"
    page = client.get(f"/practice/cases/{REVIEW}/solution")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    with app.app_context():
        catalogue = review.defect_catalogue(catalog.case_specs()[REVIEW])
    for label in planted:
        cell, defect = label.split(":")
        assert f"{cell}: {catalogue[defect]['title']}" in text


def test_with_no_stated_number_the_solution_opens_only_on_request(app, client, auth, make_user, cases):
    app.config.update(PRACTICE_MIN_SECONDS_BETWEEN_ATTEMPTS=0, PRACTICE_SOLUTION_AFTER_ATTEMPTS=0)
    mentee = make_user("mentee")
    auth.login(mentee.email)
    client.post(f"/practice/cases/{REVIEW}/start")
    with app.app_context():
        own = db.session.scalar(select(Practice))
        planted = _planted(app, practice.data_seed(own))
        for _ in range(4):
            practice.submit_review_attempt(own, _flags(planted))
        assert own.solution_unlocked_at is None
    assert "opens when you ask for it" in client.get(f"/practice/cases/{REVIEW}").get_data(as_text=True)


def test_opening_the_solution_asks_for_confirmation_first(app, client, auth, make_user, cases):
    mentee = make_user("mentee")
    auth.login(mentee.email)
    client.post("/practice/cases/tiny-hiring/start")
    confirm = client.get("/practice/cases/tiny-hiring/unlock")
    assert confirm.status_code == 200
    text = confirm.get_data(as_text=True)
    assert "Open the solution?" in text and "Yes, open the solution" in text and "No, keep trying" in text
    assert "marked" in text and "cannot be undone" in text
    with app.app_context():
        assert db.session.scalar(select(Practice)).solution_unlocked_at is None, "the confirmation page opens nothing"
    assert client.post("/practice/cases/tiny-hiring/unlock").status_code == 302
    assert (
        client.get("/practice/cases/tiny-hiring/unlock")
        .headers["Location"]
        .endswith("/practice/cases/tiny-hiring/solution")
    )


def test_reloading_a_refused_upload_lands_on_the_case_page(app, client, auth, make_user, cases):
    mentee = make_user("mentee")
    auth.login(mentee.email)
    client.post("/practice/cases/tiny-hiring/start")
    refused = client.post(
        "/practice/cases/tiny-hiring/upload", data={"notebook": (io.BytesIO(b"not json"), "mine.ipynb")}
    )
    assert refused.status_code == 400
    again = client.get("/practice/cases/tiny-hiring/upload")
    assert again.status_code == 302 and again.headers["Location"].endswith("/practice/cases/tiny-hiring")


def test_asking_for_the_solution_first_is_audited_and_marks_later_attempts(app, client, auth, make_user, cases):
    mentee = make_user("mentee")
    auth.login(mentee.email)
    client.post("/practice/cases/tiny-hiring/start")
    assert client.post("/practice/cases/tiny-hiring/unlock").status_code == 302
    page = client.get("/practice/cases/tiny-hiring/solution")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Expected answers for your data" in text and "treatment_rate" in text
    with app.app_context():
        own = db.session.scalar(select(Practice))
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "practice.solution_unlocked"))
        assert event is not None and event.details == {"reason": "requested"}
        assert event.actor_label == mentee.email
        spec = catalog.case_specs()["tiny-hiring"]
        key = spec.answer_key(spec.generate(practice.data_seed(own)))
    assert f"{key['treatment_rate']}" in text, "the solution is for the mentee's own seed"


def test_review_solution_explains_defects_and_never_shows_the_author_solution_cells(
    app, client, auth, make_user, cases
):
    mentee = make_user("mentee")
    auth.login(mentee.email)
    client.post(f"/practice/cases/{REVIEW}/start")
    client.post(f"/practice/cases/{REVIEW}/unlock")
    text = client.get(f"/practice/cases/{REVIEW}/solution").get_data(as_text=True)
    assert "re-derive this bundle" not in text and "planted_labels" not in text
    assert "How to fix it." in text


def test_review_flags_score_found_missed_and_false_flags(app, make_user, cases):
    mentee = make_user("mentee")
    seed = 21
    with app.app_context():
        own = practice.start_practice(_user(app, mentee.email), REVIEW, seed=seed)
        planted = _planted(app, practice.data_seed(own))
        assert len(planted) >= 3
        spec = catalog.case_specs()[REVIEW]
        labels = [c.label for c in review.flawed_cells(spec, practice.data_seed(own))]
        clean = next(lbl for lbl in labels if not any(p.startswith(lbl + ":") for p in planted))
        found = planted[:2]
        false_flag = f"{clean}:peeking"
        attempt = practice.submit_review_attempt(own, _flags([*found, false_flag]))
        # Brief: the share of planted defects found minus the share of the absent catalogue defects flagged.
        absent = len(review.defect_catalogue(spec)) - len(planted)
        assert attempt.earned == pytest.approx(10 * (2 / len(planted) - 1 / absent))
        practice.unlock_solution(own, own.mentee)
        explained = {f"{d.label}:{d.defect}": d.outcome for d in practice_solutions.solution_for(own, attempt).defects}
    assert {k for k, v in explained.items() if v == "found"} == set(found)
    assert {k for k, v in explained.items() if v == "missed"} == set(planted[2:])
    assert {k for k, v in explained.items() if v == "false-flag"} == {false_flag}


def test_review_attempt_page_explains_each_planted_defect(app, client, auth, make_user, cases):
    app.config["PRACTICE_SOLUTION_AFTER_ATTEMPTS"] = 1
    mentee = make_user("mentee")
    auth.login(mentee.email)
    client.post(f"/practice/cases/{REVIEW}/start")
    with app.app_context():
        seed = practice.data_seed(db.session.scalar(select(Practice)))
        planted = _planted(app, seed)
    label, defect = planted[0].split(":")
    response = client.post(
        f"/practice/cases/{REVIEW}/review", data={f"defect_{label}": defect, f"note_{label}": "leaks"}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert page.count(">found<") == 1
    assert page.count(">missed<") == len(planted) - 1
    assert "Your note: leaks" in page


def test_review_form_refuses_an_empty_review_and_unknown_defects(app, client, auth, make_user, cases):
    mentee = make_user("mentee")
    auth.login(mentee.email)
    client.post(f"/practice/cases/{REVIEW}/start")
    empty = client.post(f"/practice/cases/{REVIEW}/review", data={})
    assert empty.status_code == 400 and "Flag at least one defect" in empty.get_data(as_text=True)
    assert client.post(f"/practice/cases/{REVIEW}/review", data={"defect_C5": "made-up"}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(PracticeAttempt)) is None


def _notebook_with_flags(spec, labels: list[str]) -> bytes:
    notebook = release_notebook(spec)
    for cell in notebook.cells:
        if cell.get("metadata", {}).get("assess", {}).get("answer") == "flagged_defects":
            cell.source = f"flagged_defects = {labels!r}"
    return nbformat.writes(notebook).encode()


@pytest.mark.sandbox
def test_browser_and_notebook_routes_give_the_same_score_for_the_same_flags(app, client, auth, make_user, cases):
    # The solution opens with the first graded attempt here, so each attempt's page explains the defects.
    app.config.update(PRACTICE_MIN_SECONDS_BETWEEN_ATTEMPTS=0, PRACTICE_SOLUTION_AFTER_ATTEMPTS=1)
    mentee = make_user("mentee")
    auth.login(mentee.email)
    client.post(f"/practice/cases/{REVIEW}/start")
    with app.app_context():
        own = db.session.scalar(select(Practice))
        planted = _planted(app, practice.data_seed(own))
        spec = catalog.case_specs()[REVIEW]
        clean = next(
            c.label
            for c in review.flawed_cells(spec, practice.data_seed(own))
            if c.cell_type == "code" and not any(p.startswith(c.label + ":") for p in planted)
        )
        labels = [planted[0], planted[-1], f"{clean}:eval-on-train"]
        raw = _notebook_with_flags(spec, labels)
    browser = {}
    for label in labels:
        cell, defect = label.split(":")
        browser[f"defect_{cell}"] = defect
    assert client.post(f"/practice/cases/{REVIEW}/review", data=browser).status_code == 302
    upload = client.post(
        f"/practice/cases/{REVIEW}/upload",
        data={"notebook": (io.BytesIO(raw), "mine.ipynb")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 302
    with app.app_context():
        by_route = {a.route: a for a in db.session.scalars(select(PracticeAttempt))}
        assert by_route["notebook"].status == "done", by_route["notebook"].error
        assert by_route["notebook"].earned == pytest.approx(by_route["browser"].earned)
        absent = len(review.defect_catalogue(spec)) - len(planted)
        assert by_route["browser"].earned == pytest.approx(10 * (2 / len(planted) - 1 / absent))
    page = client.get(upload.headers["Location"]).get_data(as_text=True)
    # The notebook's literal list is read back to explain each flag.
    assert page.count(">false flag<") == 1 and page.count(">found<") == 2


def _solution_bytes(app: Flask) -> bytes:
    with app.app_context():
        return nbformat.writes(solution_notebook(catalog.case_specs()["tiny-hiring"])).encode()


def _hold_tasks(app: Flask) -> list[int]:
    """Keep grade tasks instead of running them (as if no worker were up); returns what was enqueued."""
    held: list[int] = []
    queue = app.extensions["assessments.queue"]
    app.extensions["assessments.queue"] = type(queue)(huey=queue.huey, grade=held.append)
    return held


def test_sweep_requeues_a_lost_practice_grading_and_gives_up_after_three_tries(app, make_user):
    """A notebook attempt whose task was lost is enqueued again; one whose grading keeps dying is given
    up with a message, and does not count towards the mentee's limits."""
    mentee = make_user("mentee", email="lost@example.com")
    held = _hold_tasks(app)
    with app.app_context():
        own = practice.start_practice(db.session.get(User, mentee.id), "tiny-hiring")
        attempt = practice.submit_notebook_attempt(own, "mine.ipynb", _solution_bytes(app))
        run = attempt.grade_run
        assert held == [run.id] and attempt.status == AttemptStatus.QUEUED
        assert grade_runs.sweep_grade_runs() == []  # just queued: not lost yet
        later = utcnow() + grade_runs.unclaimed_after() + timedelta(seconds=1)
        assert grade_runs.sweep_grade_runs(now=later) == [run.id]
        assert held == [run.id, run.id]
        # Its worker dies mid-run, three times over: the sweep gives it up.
        assert grade_runs.claim_grade_run(run.id, "worker-a", now=later)
        run = db.session.get(GradeRun, run.id, populate_existing=True)
        run.attempts = grade_runs.MAX_ATTEMPTS
        db.session.commit()
        assert grade_runs.sweep_grade_runs(now=later + grade_runs.lease() + timedelta(seconds=1)) == []
        attempt = db.session.get(PracticeAttempt, attempt.id, populate_existing=True)
        assert attempt.grade_run.status == GradeStatus.FAILED and "given up" in attempt.grade_run.error
        assert attempt.status == AttemptStatus.FAILED
        assert "does not count towards your limits" in attempt.error
        assert practice.next_attempt_at(attempt.practice, now=later) is None


@pytest.mark.sandbox
def test_a_duplicated_practice_task_grades_the_attempt_once(app, make_user):
    """The same grade task delivered twice at once (a re-enqueue racing a slow queue) grades once."""
    mentee = make_user("mentee", email="twice@example.com")
    # The first graded attempt opens the solution: its one audit event shows the attempt was finished once.
    app.config["PRACTICE_SOLUTION_AFTER_ATTEMPTS"] = 1
    queue = app.extensions["assessments.queue"]
    held = _hold_tasks(app)
    with app.app_context():
        own = practice.start_practice(db.session.get(User, mentee.id), "tiny-hiring")
        attempt_id = practice.submit_notebook_attempt(own, "mine.ipynb", _solution_bytes(app)).id
    [run_id] = held
    graded = {"outcome": "graded"}
    before = REGISTRY.get_sample_value("assess_grading_duration_seconds_count", graded) or 0.0
    both_delivered = threading.Barrier(2)

    def deliver() -> None:
        both_delivered.wait()
        queue.grade(run_id)  # the real task; the test's Huey runs it in this thread

    consumers = [threading.Thread(target=deliver) for _ in range(2)]
    for consumer in consumers:
        consumer.start()
    for consumer in consumers:
        consumer.join(timeout=120)
    with app.app_context():
        attempt = db.session.get(PracticeAttempt, attempt_id)
        assert attempt.status == AttemptStatus.DONE, attempt.error
        assert attempt.earned == attempt.possible > 0
        assert attempt.grade_run.attempts == 1  # claimed once: the other delivery found it taken
        unlocked = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "practice.solution_unlocked")).all()
        assert len(unlocked) == 1
    assert REGISTRY.get_sample_value("assess_grading_duration_seconds_count", graded) == before + 1
