"""Calibration pages, exports and CLI (the statistics themselves are tested in tests/stats)."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
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
from assessments.stats import simulate_panel
from tests.stats.test_reliability import (
    KRIPPENDORFF_2011,
    KRIPPENDORFF_PUBLISHED,
    SHROUT_FLEISS,
    SHROUT_FLEISS_PUBLISHED,
)


def _card(app, invitation_id, user, level_by_dim, rec="yes"):
    with app.app_context():
        rubric = scorecards.rubric_for()
        result = ScorecardResult(
            rubric.slug,
            rubric.content_hash,
            level_by_dim,
            {d: "Said something specific about it." for d in level_by_dim},
            (),
            "",
            rec,
            True,
        )
        scorecards.save_scorecard(db.session.get(Invitation, invitation_id), db.session.get(User, user.id), result)


@pytest.fixture
def panels(app, make_user, make_invitation):
    """Six candidates, three raters each; 'Lenny' rates everyone two levels up."""
    raters = [
        make_user("interviewer", email=f"r{i}@example.com", name=name)
        for i, name in enumerate(["Lenny", "Hana", "Omar"])
    ]
    invitations = [make_invitation(panel=raters)[0] for _ in range(6)]
    for number, invitation_id in enumerate(invitations):
        base = 1 + number % 2
        for rater in raters:
            bump = 2 if rater.display_name == "Lenny" else 0
            _card(
                app,
                invitation_id,
                rater,
                {"evaluation-rigor": min(4, base + bump), "communication": min(4, base + bump)},
            )
    return invitations, raters


def test_report_uses_current_hiring_scorecards_only(app, panels):
    invitations, (lenny, hana, _) = panels
    with app.app_context():
        # A mentoring review with extreme ratings must never enter hiring calibration.
        review = Scorecard(
            invitation_id=invitations[0],
            interviewer_id=hana.id,
            purpose="mentoring",
            rubric_slug="lead-ml-scientist",
            rubric_version="x",
            status=ScorecardStatus.SUBMITTED,
            recommendation="strong_no",
            red_flags=[],
            submitted_at=utcnow(),
        )
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
        result = ScorecardResult(
            rubric.slug,
            rubric.content_hash,
            {"evaluation-rigor": 1, "communication": 1},
            {"evaluation-rigor": "re-read", "communication": "re-read"},
            (),
            "",
            "no",
            True,
        )
        scorecards.amend_scorecard(invitation, db.session.get(User, lenny.id), result, "Too generous")
        ratings, cards, _ = calibration.hiring_frames(calibration.CalibrationFilters())
        assert len(cards) == 18
        mine = ratings[(ratings.interviewer == "Lenny") & (ratings.candidate.str.endswith(f"(#{invitations[0]})"))]
        assert set(mine.rating) == {1.0}


def _auto_grade(app, invitation_id: int, fraction: float) -> None:
    """A finished grade run for the invitation's first version, without the sandbox."""
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        report = GradeReport(
            "test",
            "tiny-hiring",
            invitation.case.content_hash,
            invitation.seed,
            fraction,
            1.0,
            (CheckResult("treatment_rate", fraction, 1.0, "partial", "checked"),),
            (),
            Timings(),
        )
        submission = Submission(invitation=invitation, version=1, sha256="0" * 64, size=1, filename="a.ipynb")
        db.session.add(
            GradeRun(
                submission=submission,
                grader_version="test",
                case_version="x",
                status=GradeStatus.DONE,
                results=report.to_dict(),
                earned=fraction,
                possible=1.0,
            )
        )
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
        old = db.session.scalars(select(Scorecard).where(Scorecard.invitation_id.in_(invitations[:2]))).all()
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
    assert "n = 6 candidates" in page and "few candidates" in page
    assert "widened for 3 interviewers compared (Bonferroni" in page
    assert "Generalizability study per dimension from every rating" in page
    assert 'data-figure="leniency"' in page
    assert "<script>" not in page  # figures travel as JSON data blocks, drawn by /static/charts.js
    assert 'type="application/json" id="figure-leniency"' in page
    session = client.get("/calibration/session").get_data(as_text=True)
    assert "Said something specific" in session
    body = client.get("/calibration/report.json").get_json()
    assert body["headlines"]["most_lenient"] == "Lenny"
    assert {"alpha", "icc", "generalizability", "leniency", "disagreements"} <= body.keys()
    assert body["headlines"]["most_lenient_n"] == 6 and body["headlines"]["raters_compared"] == 3
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


def test_no_rater_is_named_when_none_stands_out(runner, tmp_path):
    # six raters with no leniency at all, only noise: nobody is named, and the JSON says why
    ratings, _ = simulate_panel(3, n_candidates=40, n_interviewers=6, leniency_sd=0.0)
    path = tmp_path / "ratings.csv"
    ratings.assign(rating=ratings["rating"].astype(int)).to_csv(path, index=False)
    result = runner.invoke(args=["calibration", "report", "--from", str(path), "--scale", "1..4"])
    assert result.exit_code == 0, result.output
    headlines = json.loads(result.stdout)["headlines"]
    assert headlines["most_lenient"] is None and headlines["most_severe"] is None
    assert headlines["raters_compared"] == 6 and "Bonferroni" in headlines["rule"]


def test_cli_report_from_csv(runner, tmp_path):
    rows = ["candidate,interviewer,dimension,rating"]
    for c in range(12):
        for r, bias in (("lenient", 1), ("a", 0), ("b", 0)):
            rows.append(f"c{c},{r},framing,{min(4, 1 + c % 3 + bias)}")
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(rows) + "\n")
    result = runner.invoke(args=["calibration", "report", "--from", str(path), "--scale", "1..4"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["headlines"]["most_lenient"] == "lenient"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("candidate,interviewer,rating\nc1,a,3\n", "Line 1: the header lacks the column(s) dimension"),
        (
            "candidate,interviewer,dimension,rating\nc1,a,x,3\nc1,a,x,three\n",
            "Line 3, column 4 (rating): 'three' is not a number",
        ),
        (
            "candidate,interviewer,dimension,rating\nc1,a,x,3\nc1,a,x,2.5\n",
            "Line 3, column 4 (rating): '2.5' is not a whole number",
        ),
        (
            "candidate,interviewer,dimension,rating\nc1,a,x,3\nc2,a,x,7\n",
            "Line 3, column 4 (rating): 7 is outside the scale 1..5",
        ),
        ("candidate,interviewer,dimension,rating\nc1,a,x,3\nc1,A,x,2\n", "Line 3: duplicate of line 2"),
        ("candidate,interviewer,dimension,rating\nc1,,x,3\n", "Line 2, column 2 (interviewer): blank"),
        ("candidate,interviewer,dimension,rating\nc1,Smith, Jo,x,3\n", "Line 2: expected 4 fields"),
    ],
)
def test_cli_report_names_the_bad_line_and_column_and_exits_2(runner, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = runner.invoke(args=["calibration", "report", "--from", str(path), "--scale", "1..5"])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_cli_names_a_file_that_is_not_utf8_and_a_bad_scale(runner, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("candidate,interviewer,dimension,rating\nc1,José,x,3\n".encode("latin-1"))
    result = runner.invoke(args=["calibration", "report", "--from", str(path)])
    assert result.exit_code == 2 and "Line 2 is not UTF-8" in result.output
    good = tmp_path / "good.csv"
    good.write_text("candidate,interviewer,dimension,rating\nc1,a,x,3\n")
    result = runner.invoke(args=["calibration", "report", "--from", str(good), "--scale", "five"])
    assert result.exit_code == 2 and "MIN..MAX" in result.output


def _export(rows: list[str]) -> str:
    return "\n".join(["candidate,interviewer,dimension,rating", *rows]) + "\n"


def test_cli_reads_semicolons_utf16_and_matches_names_ignoring_case_and_form(runner, tmp_path):
    rows = []
    for c in range(12):
        for rater, bias in (("Zoë Lenient", 1), ("ana", 0), ("Bo", 0)):
            # the same person written three ways: NFD, upper case, extra spaces
            shown = {0: rater, 1: unicodedata.normalize("NFD", rater), 2: rater.upper()}[c % 3]
            rows.append(f"c{c};{shown};framing;{min(5, 1 + c % 3 + bias)}")
    path = tmp_path / "ats.csv"
    path.write_bytes(_export(rows).replace(",", ";").encode("utf-16"))
    result = runner.invoke(args=["calibration", "report", "--from", str(path), "--scale", "1..5"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert {row["interviewer"] for row in body["rating_distribution"]} == {"Zoë Lenient", "ana", "Bo"}
    assert "read as UTF-16 (byte-order mark found)" in body["notes"]
    assert "read as semicolon-separated" in body["notes"]
    assert body["levels"] == [1, 2, 3, 4, 5]
    assert "Note: read as semicolon-separated." in result.stderr


def test_cli_reads_the_scale_from_the_data_and_says_so(runner, tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(_export([f"c{c},{r},x,{2 + (c + r) % 6}" for c in range(8) for r in range(3)]))
    result = runner.invoke(args=["calibration", "report", "--from", str(path)])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["levels"] == list(range(2, 8))
    assert any("scale 2..7 read from the data" in note for note in body["notes"])


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_krippendorff_2011_example_through_the_cli(runner, tmp_path, level):
    path = tmp_path / "krippendorff-2011.csv"
    path.write_text(
        _export(
            [
                f"unit {unit + 1},observer {observer + 1},value,{'' if value != value else int(value)}"
                for observer, line in enumerate(KRIPPENDORFF_2011)
                for unit, value in enumerate(line)
            ]
        )
    )
    result = runner.invoke(
        args=["calibration", "report", "--from", str(path), "--scale", "1..5", "--alpha-level", level]
    )
    assert result.exit_code == 0, result.output
    alpha = json.loads(result.stdout)["alpha"][0]
    assert round(alpha["alpha"], 3) == KRIPPENDORFF_PUBLISHED[level]
    assert (alpha["n_units"], alpha["n_values"]) == (11, 40)


def test_shrout_fleiss_1979_example_through_the_cli(runner, tmp_path):
    path = tmp_path / "shrout-fleiss-1979.csv"
    path.write_text(
        _export(
            [
                f"target {target + 1},judge {judge + 1},overall,{value}"
                for target, line in enumerate(SHROUT_FLEISS)
                for judge, value in enumerate(line)
            ]
        )
    )
    result = runner.invoke(args=["calibration", "report", "--from", str(path), "--scale", "1..10"])
    assert result.exit_code == 0, result.output
    icc = {row["form"]: row for row in json.loads(result.stdout)["icc"]}
    for form, published in SHROUT_FLEISS_PUBLISHED.items():
        assert round(icc[form]["icc"], 2) == published, form
        assert (icc[form]["n_units"], icc[form]["n_raters"]) == (6, 4)


def test_html_export_of_a_csv_says_where_the_ratings_came_from(runner, tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(_export([f"c{c},{r},x,{1 + (c + r) % 5}" for c in range(8) for r in range(3)]))
    out = tmp_path / "report.html"
    result = runner.invoke(
        args=["calibration", "report", "--from", str(path), "--scale", "1..5", "--format", "html", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Source: ratings.csv (ratings on the scale 1..5)." in out.read_text()
    assert "CalibrationFilters(" not in out.read_text()
