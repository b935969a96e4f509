"""Outcomes (by hand and by CSV) and the validity report built from the database."""

from __future__ import annotations

import ast
import io
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import select

import assessments
from assessments.errors import AccessDenied, InvalidInput, NotFound
from assessments.extensions import db
from assessments.models import (
    AuditEvent,
    Candidate,
    GradeRun,
    GradeStatus,
    Invitation,
    Outcome,
    Rating,
    Role,
    Scorecard,
    ScorecardPurpose,
    ScorecardStatus,
    Submission,
    User,
)
from assessments.models.types import utcnow
from assessments.services import accounts, catalog, invitations, outcomes, scorecards, validity
from assessments.services.outcomes import OutcomeValues
from tests.conftest import PASSWORD

DIMENSIONS = ("evaluation-rigor", "communication")


def _admin() -> User:
    admin = accounts.find_user_by_email("owner@example.com")
    return admin or accounts.create_user("owner@example.com", "Owner", Role.ADMIN, PASSWORD)


def _candidate(number: int) -> int:
    invitation, _ = invitations.invite_candidate(
        f"Pool {number:03d}",
        f"pool{number:03d}@example.org",
        catalog.find_current_case("tiny-hiring"),
        due_at=utcnow() + timedelta(days=3),
        panel=[],
        actor=_admin(),
        panel_later=True,
    )
    return invitation.id


def _scorecard(invitation_id: int, interviewer: User, levels: dict[str, int | None], recommendation: str) -> None:
    rubric = scorecards.rubric_for()
    card = Scorecard(
        invitation_id=invitation_id,
        interviewer_id=interviewer.id,
        purpose=ScorecardPurpose.HIRING,
        rubric_slug=rubric.slug,
        rubric_version=rubric.content_hash,
        status=ScorecardStatus.SUBMITTED,
        recommendation=recommendation,
        submitted_at=utcnow(),
    )
    card.ratings = [Rating(dimension_id=d, level=level) for d, level in levels.items()]
    db.session.add(card)


def _grade(invitation_id: int, earned: float, possible: float = 10.0) -> None:
    submission = Submission(invitation_id=invitation_id, version=1, sha256="0" * 64, size=1, filename="a.ipynb")
    run = GradeRun(
        submission=submission,
        grader_version="t",
        case_version="t",
        status=GradeStatus.DONE,
        earned=earned,
        possible=possible,
    )
    db.session.add_all([submission, run])


@pytest.fixture
def interviewers(app, make_user) -> list[User]:
    return [make_user("interviewer", email=f"rater{i}@example.com", name=f"Rater {i}") for i in range(2)]


def _pool(n: int, interviewers: list[User], seed: int = 1) -> list[int]:
    """n candidates whose auto-grade, scorecards and (for the top half) ratings all follow one ability."""
    rng = np.random.default_rng(seed)
    ability = rng.normal(size=n)
    ids = []
    for i in range(n):
        invitation_id = _candidate(i)
        _grade(invitation_id, float(np.clip(5 + 2 * ability[i] + rng.normal(0, 1), 0, 10)))
        for rater in interviewers:
            level = int(np.clip(np.rint(2.5 + ability[i] + rng.normal(0, 0.7)), 1, 4))
            _scorecard(invitation_id, rater, {d: level for d in DIMENSIONS}, "yes" if level >= 3 else "no")
        ids.append(invitation_id)
    db.session.commit()
    admin = _admin()
    order = np.argsort(-ability)
    for rank, index in enumerate(order):
        hired = rank < n // 2
        candidate_id = db.session.get(Candidate, _candidate_id(ids[index])).id
        rating = float(np.clip(np.rint(3 + ability[index] + rng.normal(0, 0.5)), 1, 5)) if hired else None
        outcomes.record_outcome(candidate_id, OutcomeValues(hired, rating_6m=rating), admin)
    return ids


def _candidate_id(invitation_id: int) -> int:
    return db.session.get(Invitation, invitation_id).candidate_id


def test_record_outcome_keeps_one_row_per_candidate_and_logs_who_without_values(app) -> None:
    with app.app_context():
        candidate_id = _candidate_id(_candidate(1))
        admin = _admin()
        outcomes.record_outcome(candidate_id, OutcomeValues(True, date(2026, 3, 1), 4.0), admin)
        outcomes.record_outcome(candidate_id, OutcomeValues(True, date(2026, 3, 1), 4.0, 3.5), admin)
        rows = db.session.scalars(select(Outcome)).all()
        assert [(r.hired, r.start_date, r.rating_6m, r.rating_12m) for r in rows] == [
            (True, date(2026, 3, 1), 4.0, 3.5)
        ]
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "outcome.recorded")).all()
        assert len(events) == 2 and events[0].actor_id == admin.id
        assert "4.0" not in str(events[0].details) and "3.5" not in str(events[1].details)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (OutcomeValues(True, rating_6m=6.0), "between 1 and 5"),
        (OutcomeValues(True, rating_12m=0.5), "between 1 and 5"),
        (OutcomeValues(False, rating_6m=3.0), "Only a hire"),
        (OutcomeValues(False, start_date=date(2026, 1, 1)), "Only a hire"),
    ],
)
def test_outcomes_off_the_rules_are_refused(app, values: OutcomeValues, message: str) -> None:
    with app.app_context():
        candidate_id = _candidate_id(_candidate(1))
        with pytest.raises(InvalidInput, match=message):
            outcomes.record_outcome(candidate_id, values, _admin())
        assert db.session.scalars(select(Outcome)).all() == []


def test_the_rating_scale_is_configurable(app) -> None:
    app.config["OUTCOME_RATING_SCALE"] = "1..10"
    with app.app_context():
        candidate_id = _candidate_id(_candidate(1))
        outcomes.record_outcome(candidate_id, OutcomeValues(True, rating_6m=8.5), _admin())
        with pytest.raises(InvalidInput, match="between 1 and 10"):
            outcomes.record_outcome(candidate_id, OutcomeValues(True, rating_6m=11), _admin())


def test_unknown_candidate_is_not_found(app) -> None:
    with app.app_context(), pytest.raises(NotFound):
        outcomes.record_outcome(999_999, OutcomeValues(False), _admin())


def test_csv_import_creates_and_updates_by_email(app) -> None:
    with app.app_context():
        first, second = _candidate_id(_candidate(1)), _candidate_id(_candidate(2))
        outcomes.record_outcome(first, OutcomeValues(False), _admin())
        data = (
            "\ufeffcandidate,hired,start_date,rating_6m,rating_12m\n"
            "POOL001@example.org,yes,2026-02-01,4,\n"
            "pool002@example.org,0,,,\n"
        ).encode()
        result = outcomes.import_outcomes_csv(data, _admin())
        assert (result.created, result.updated) == (1, 1)
        by_candidate = {o.candidate_id: o for o in db.session.scalars(select(Outcome))}
        assert by_candidate[first].hired and by_candidate[first].rating_6m == 4.0
        assert by_candidate[first].start_date == date(2026, 2, 1) and by_candidate[first].rating_12m is None
        assert not by_candidate[second].hired


def test_csv_import_names_every_bad_row_by_line_and_records_nothing(app) -> None:
    with app.app_context():
        for number in range(1, 6):
            _candidate(number)
        data = (
            b"candidate,hired,start_date,rating_6m\n"
            b"pool001@example.org,1,2026-02-01,4\n"
            b"nobody@example.org,1,,\n"
            b"pool002@example.org,maybe,,\n"
            b"pool003@example.org,1,,9\n"
            b"pool001@example.org,1,,\n"
            b"pool004@example.org,1,01/02/2026,\n"
            b"pool005@example.org,1,,four\n"
            b",1,,\n"
        )
        with pytest.raises(InvalidInput) as raised:
            outcomes.import_outcomes_csv(data, _admin())
        message = raised.value.message
        assert "Line 2" not in message
        assert "Line 3: no candidate has the email 'nobody@example.org'" in message
        assert "Line 4: hired must be 1 or 0" in message
        assert "Line 5: The 6-month rating must be between 1 and 5, not 9" in message
        assert "Line 6: pool001@example.org already appears on line 2" in message
        assert "Line 7: start_date '01/02/2026' is not a date" in message
        assert "Line 8: rating_6m 'four' is not a number" in message
        assert "Line 9: the candidate column is empty" in message
        assert db.session.scalars(select(Outcome)).all() == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"email,hired\nx@example.org,1\n", "missing the column(s) candidate"),
        (b"candidate,hired,salary\n", "unknown column(s) salary"),
        (b"candidate,hired\n", "no rows below its header"),
        ("candidate,hired\nné,1\n".encode("latin-1"), "not UTF-8"),
        (b"candidate,hired\n" + b"x" * (outcomes.MAX_IMPORT_BYTES + 1), "larger than 2 MB"),
    ],
)
def test_csv_import_refuses_bad_files(app, data: bytes, message: str) -> None:
    with app.app_context(), pytest.raises(InvalidInput) as raised:
        outcomes.import_outcomes_csv(data, _admin())
    assert message in raised.value.message


def test_validity_frame_reads_the_current_scorecards_and_newest_auto_grade(app, interviewers) -> None:
    with app.app_context():
        invitation_id = _candidate(1)
        _grade(invitation_id, 3.0)
        a, b = interviewers
        _scorecard(invitation_id, a, {"evaluation-rigor": 1, "communication": 2}, "strong_no")
        # An amendment replaces a's original; b's recommendation is "no decision", which has no score.
        _scorecard(invitation_id, a, {"evaluation-rigor": 3, "communication": 2}, "yes")
        _scorecard(invitation_id, b, {"evaluation-rigor": 4, "communication": None}, "no_decision")
        db.session.commit()
        candidate_id = _candidate_id(invitation_id)
        outcomes.record_outcome(candidate_id, OutcomeValues(True, rating_6m=4.0), _admin())
        frame, dimensions = validity.validity_frame()
        row = frame.loc[candidate_id]
        assert dimensions == DIMENSIONS
        assert row["auto_grade"] == pytest.approx(0.3)
        assert row["dim:evaluation-rigor"] == pytest.approx(3.5)
        assert row["dim:communication"] == pytest.approx(2.0)
        assert row["scorecard_mean"] == pytest.approx(2.75)
        assert row["recommendation"] == pytest.approx(3.0)
        assert (row["hired"], row["rating_6m"]) == (1.0, 4.0) and np.isnan(row["rating_12m"])


def test_validity_report_matches_scipy_on_the_same_rows(app, interviewers) -> None:
    with app.app_context():
        _pool(40, interviewers)
        report = validity.build_validity(n_boot=100)
        frame, _ = validity.validity_frame()
        assert (report.n_assessed, report.n_with_outcome, report.n_hired) == (40, 40, 20)
        hired = report.cell("auto_grade", "hired")
        r, _ = stats.pearsonr(frame["auto_grade"], frame["hired"])
        assert hired.n == 40 and hired.r == pytest.approx(r) and hired.corrected is None
        rated = report.cell("scorecard_mean", "rating_6m")
        pairs = frame[["scorecard_mean", "rating_6m"]].dropna()
        assert rated.n == 20 and rated.r == pytest.approx(stats.pearsonr(pairs.iloc[:, 0], pairs.iloc[:, 1])[0])
        # Hired from the top of the pool: the spread among hires is smaller, so the correction raises r.
        assert rated.sd_restricted < rated.sd_unrestricted and rated.n_unrestricted == 40
        assert rated.corrected > rated.r
        # No 12-month ratings yet: every cell says so, with its n.
        assert all(not report.cell(p.key, "rating_12m").enough for p in report.predictors)
        assert report.cell("auto_grade", "rating_12m").note.startswith("not enough data: 0 pairs")
        by_outcome = {item.outcome: item for item in report.incremental}
        assert by_outcome["hired"].n == 40 and by_outcome["hired"].delta_r2 is not None
        assert by_outcome["rating_6m"].n == 20 and by_outcome["rating_6m"].enough
        assert not by_outcome["rating_12m"].enough
        text = validity.report_text(report)
        assert "n = 40" in text and "Case II corrected" in text


def test_admin_records_an_outcome_on_the_page_and_sees_it(app, client, auth) -> None:
    with app.app_context():
        candidate_id = _candidate_id(_candidate(1))
    auth.login("owner@example.com")
    response = client.post(
        "/admin/outcomes",
        data={"candidate_id": candidate_id, "hired": "y", "start_date": "2026-02-01", "rating_6m": "4.5"},
    )
    assert response.status_code == 302
    page = client.get("/admin/outcomes").get_data(as_text=True)
    assert "Pool 001" in page and "2026-02-01" in page and "4.5" in page
    refused = client.post("/admin/outcomes", data={"candidate_id": candidate_id, "rating_6m": "4"})
    assert refused.status_code == 400 and "Only a hire has a 6-month rating" in refused.get_data(as_text=True)


def test_admin_import_names_the_bad_line_on_the_page(app, client, auth) -> None:
    with app.app_context():
        _candidate(1)
    auth.login("owner@example.com")
    bad = io.BytesIO(b"candidate,hired,rating_6m\npool001@example.org,1,4\nghost@example.org,1,\n")
    response = client.post("/admin/outcomes/import", data={"file": (bad, "o.csv")}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Line 3: no candidate has the email" in response.get_data(as_text=True)
    good = io.BytesIO(b"candidate,hired,rating_6m\npool001@example.org,1,4\n")
    response = client.post("/admin/outcomes/import", data={"file": (good, "o.csv")}, content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalars(select(Outcome.rating_6m)).all() == [4.0]


def test_only_admins_record_outcomes_even_through_the_service(app, make_user) -> None:
    interviewer = make_user("interviewer", email="iv@example.com")
    with app.app_context():
        candidate_id = _candidate_id(_candidate(1))
        with pytest.raises(AccessDenied):
            outcomes.record_outcome(candidate_id, OutcomeValues(False), db.session.get(User, interviewer.id))
        with pytest.raises(AccessDenied):
            outcomes.import_outcomes_csv(
                b"candidate,hired\npool001@example.org,0\n", db.session.get(User, interviewer.id)
            )


def test_outcomes_are_read_only_by_the_outcome_and_validity_services() -> None:
    # HR data never reaches an interviewer- or mentor-facing page: no other module names the table's class.
    root = Path(assessments.__file__).parent
    readers = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
            if "Outcome" in names or (isinstance(node, ast.Attribute) and node.attr == "Outcome"):
                readers.add(str(path.relative_to(root)))
    assert readers - {"models/__init__.py"} <= {
        "services/outcomes.py",
        "services/validity.py",
        "services/demo_outcomes.py",
    }
    assert {"services/outcomes.py", "services/validity.py"} <= readers


def test_cli_imports_and_reports(app, runner, tmp_path, interviewers) -> None:
    with app.app_context():
        _pool(30, interviewers)
    path = tmp_path / "outcomes.csv"
    path.write_text("candidate,hired,rating_6m,rating_12m\npool000@example.org,1,4,5\n")
    group = ["fairness", "validity"] if "fairness" in app.cli.commands else ["validity"]
    result = runner.invoke(args=[*group, "import", str(path), "--by", "owner@example.com"])
    assert result.exit_code == 0, result.output
    assert "0 new, 1 updated" in result.output
    path.write_text("candidate,hired\nghost@example.org,1\n")
    result = runner.invoke(args=[*group, "import", str(path), "--by", "owner@example.com"])
    assert result.exit_code == 2 and "Line 2: no candidate has the email" in result.output
    result = runner.invoke(args=[*group, "report", "--format", "json", "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["n_assessed"] == 30 and data["min_correlation_n"] == 10
    cell = next(c for c in data["correlations"] if c["predictor"] == "auto_grade" and c["outcome"] == "rating_6m")
    assert cell["n"] == 15 and cell["corrected"] is not None
