"""Calibration pages, exports and CLI (the statistics themselves are tested in tests/stats)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from assessments.extensions import db
from assessments.grading.report import CheckResult, GradeReport, Timings
from assessments.models import (
    GradeRun,
    GradeStatus,
    Invitation,
    Rating,
    Scorecard,
    ScorecardStatus,
    Submission,
    User,
)
from assessments.models.types import utcnow
from assessments.scorecard import ScorecardResult
from assessments.services import calibration, scorecards


def _card(app, invitation_id, user, level_by_dim, rec="yes"):
    with app.app_context():
        rubric = scorecards.rubric_for()
        result = ScorecardResult(
            rubric.slug, rubric.content_hash, level_by_dim,
            {d: "Said something specific about it." for d in level_by_dim}, (), "", rec, True,
        )
        scorecards.save_scorecard(db.session.get(Invitation, invitation_id), db.session.get(User, user.id), result)


@pytest.fixture
def panels(app, make_user, make_invitation):
    """Six candidates, three raters each; 'Lenny' rates everyone two levels up."""
    raters = [make_user("interviewer", email=f"r{i}@example.com", name=name) for i, name in enumerate(["Lenny", "Hana", "Omar"])]
    invitations = [make_invitation(panel=raters)[0] for _ in range(6)]
    for number, invitation_id in enumerate(invitations):
        base = 1 + number % 2
        for rater in raters:
            bump = 2 if rater.display_name == "Lenny" else 0
            _card(app, invitation_id, rater, {"evaluation-rigor": min(4, base + bump), "communication": min(4, base + bump)})
    return invitations, raters


def test_report_uses_current_hiring_scorecards_only(app, panels):
    invitations, (lenny, hana, _) = panels
    with app.app_context():
        # A mentoring review with extreme ratings must never enter hiring calibration.
        review = Scorecard(invitation_id=invitations[0], interviewer_id=hana.id, purpose="mentoring",
                           rubric_slug="lead-ml-scientist", rubric_version="x", status=ScorecardStatus.SUBMITTED,
                           recommendation="strong_no", red_flags=[], submitted_at=utcnow())
        review.ratings.append(Rating(dimension_id="evaluation-rigor", level=1, evidence="mentoring"))
        db.session.add(review)
        db.session.commit()
        ratings, cards, evidence = calibration.hiring_frames(calibration.CalibrationFilters())
        assert len(cards) == 18
        assert len(ratings) == 36
        assert "mentoring" not in evidence.values()
        view = calibration.build_calibration(calibration.CalibrationFilters(), n_boot=50)
        assert view.headlines.most_lenient == "Lenny"


def test_amendment_replaces_the_original_in_calibration(app, panels):
    invitations, (lenny, *_) = panels
    with app.app_context():
        invitation = db.session.get(Invitation, invitations[0])
        rubric = scorecards.rubric_for()
        result = ScorecardResult(rubric.slug, rubric.content_hash, {"evaluation-rigor": 1, "communication": 1},
                                 {"evaluation-rigor": "re-read", "communication": "re-read"}, (), "", "no", True)
        scorecards.amend_scorecard(invitation, db.session.get(User, lenny.id), result, "Too generous")
        ratings, cards, _ = calibration.hiring_frames(calibration.CalibrationFilters())
        assert len(cards) == 18
        mine = ratings[(ratings.interviewer == "Lenny") & (ratings.candidate.str.endswith(f"(#{invitations[0]})"))]
        assert set(mine.rating) == {1.0}


def _auto_grade(app, invitation_id: int, fraction: float) -> None:
    """A finished grade run for the invitation's first version, without the sandbox."""
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        report = GradeReport("test", "tiny-hiring", invitation.case.content_hash, invitation.seed, fraction, 1.0,
                             (CheckResult("treatment_rate", fraction, 1.0, "partial", "checked"),), (), Timings())
        submission = Submission(invitation=invitation, version=1, sha256="0" * 64, size=1, filename="a.ipynb")
        db.session.add(GradeRun(submission=submission, grader_version="test", case_version="x",
                                status=GradeStatus.DONE, results=report.to_dict(), earned=fraction, possible=1.0))
        db.session.commit()


def test_filters_apply_to_the_auto_grades_beside_the_ratings(app, make_user, make_invitation, panels):
    invitations, _ = panels
    zoe = make_user("interviewer", email="zoe@example.com", name="Zoe")
    hers = make_invitation(panel=[zoe])[0]
    _card(app, hers, zoe, {"evaluation-rigor": 3, "communication": 3})
    for invitation_id in [*invitations, hers]:
        _auto_grade(app, invitation_id, 0.5)
    with app.app_context():
        everyone, _ = calibration.auto_grade_frames(calibration.CalibrationFilters())
        assert everyone.candidate.nunique() == 7
        by_zoe = calibration.CalibrationFilters(interviewer="zoe@example.com")
        ratings, _, _ = calibration.hiring_frames(by_zoe)
        auto, _ = calibration.auto_grade_frames(by_zoe)
        assert set(auto.candidate) == set(ratings.candidate) == {f"Casey Candidate (#{hers})"}
        # Dates select scorecards too: only candidates rated in the range keep their auto-grades.
        old = db.session.scalars(
            select(Scorecard).where(Scorecard.invitation_id.in_(invitations[:2]))).all()
        for scorecard in old:
            scorecard.submitted_at = scorecard.submitted_at - timedelta(days=30)
        db.session.commit()
        recent = calibration.CalibrationFilters(date_from=(utcnow() - timedelta(days=7)).date())
        ratings, _, _ = calibration.hiring_frames(recent)
        auto, _ = calibration.auto_grade_frames(recent)
        assert set(auto.candidate) == set(ratings.candidate)
        assert len(set(auto.candidate)) == 5


def test_report_page_and_exports(app, client, auth, panels, make_user):
    admin = make_user("admin", email="boss@example.com")
    auth.login(admin.email)
    page = client.get("/calibration/").get_data(as_text=True)
    assert 'id="most-lenient">Lenny<' in page
    assert "data-figure=\"leniency\"" in page
    assert "<script>" not in page  # figures travel as JSON data blocks, drawn by /static/charts.js
    assert 'type="application/json" id="figure-leniency"' in page
    session = client.get("/calibration/session").get_data(as_text=True)
    assert "Said something specific" in session
    body = client.get("/calibration/report.json").get_json()
    assert body["headlines"]["most_lenient"] == "Lenny"
    assert {"alpha", "icc", "leniency", "disagreements"} <= body.keys()
    rows = list(csv.DictReader(io.StringIO(client.get("/calibration/report.csv").get_data(as_text=True))))
    assert {r["table"] for r in rows} >= {"alpha", "leniency", "rating_distribution"}
    html = client.get("/calibration/report.html")
    assert html.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in html.headers["Content-Security-Policy"]
    assert b"Plotly" in html.data and b"http" not in html.data.split(b"<body>")[1][:2000]
    # A filter that excludes everything gives a clear page, not an error.
    empty = client.get("/calibration/?case=no-such-case")
    assert empty.status_code == 200
    bad_date = client.get("/calibration/?date_from=yesterday")
    assert bad_date.status_code == 200 and "Not a valid date" in bad_date.get_data(as_text=True)


def test_cli_report_from_csv(runner, tmp_path):
    rows = ["candidate,interviewer,dimension,rating"]
    for c in range(12):
        for r, bias in (("lenient", 1), ("a", 0), ("b", 0)):
            rows.append(f"c{c},{r},framing,{min(4, 1 + c % 3 + bias)}")
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(rows) + "\n")
    result = runner.invoke(args=["calibration", "report", "--from", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["headlines"]["most_lenient"] == "lenient"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("candidate,interviewer,rating\nc1,a,3\n", "Line 1: the header lacks the column(s) dimension"),
        ("candidate,interviewer,dimension,rating\nc1,a,x,3\nc1,a,x,three\n", "Line 3: rating 'three' is not an integer"),
        ("candidate,interviewer,dimension,rating\nc1,a,x,3\nc1,a,x,2\n", "Line 3: duplicate of line 2"),
        ("candidate,interviewer,dimension,rating\nc1,,x,3\n", "Line 2: candidate, interviewer and dimension must not be blank"),
    ],
)
def test_cli_report_names_the_bad_line(runner, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = runner.invoke(args=["calibration", "report", "--from", str(path)])
    assert result.exit_code != 0
    assert message in result.output
