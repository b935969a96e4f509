"""Calibration pages, exports and CLI (the statistics themselves are tested in tests/stats)."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import zipfile
from datetime import timedelta
from html import unescape

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
from assessments.stats.report import FRAME_FIELDS
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
    assert "n = 6 candidates" in page
    assert "only 6 candidates, below the minimum of 10" in page
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
    assert client.get("/calibration/report.csv").status_code == 404  # one sparse table: replaced by the zip
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


def test_the_report_is_computed_once_per_data_version(app, panels, make_invitation):
    invitations, (lenny, *_) = panels
    everyone = calibration.CalibrationFilters()
    with app.app_context():
        first = calibration.build_calibration(everyone, n_boot=20)
        assert calibration.build_calibration(everyone, n_boot=20) is first  # a page view: no bootstrap
        assert first.report.n_scorecards == 18 and first.report.item_analysis.empty
    # A submitted scorecard changes the data version: the next view counts it.
    extra = make_invitation(panel=[lenny])[0]
    _card(app, extra, lenny, {"evaluation-rigor": 4, "communication": 4})
    with app.app_context():
        second = calibration.build_calibration(everyone, n_boot=20)
        assert second is not first and second.report.n_scorecards == 19
        assert calibration.build_calibration(everyone, n_boot=20) is second
    # So does a finished grade run.
    _auto_grade(app, invitations[0], 0.5)
    with app.app_context():
        third = calibration.build_calibration(everyone, n_boot=20)
        assert third is not second and not third.report.item_analysis.empty
        # Other filters are other reports.
        only_case = calibration.CalibrationFilters(case="tiny-hiring")
        assert calibration.build_calibration(only_case, n_boot=20) is not third


def test_an_amendment_is_a_new_data_version(app, panels):
    invitations, (lenny, *_) = panels
    with app.app_context():
        before = calibration.build_calibration(calibration.CalibrationFilters(), n_boot=20)
        assert before.headlines.most_lenient == "Lenny"
    with app.app_context():
        rubric = scorecards.rubric_for()
        for invitation_id in invitations:
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
            invitation = db.session.get(Invitation, invitation_id)
            scorecards.amend_scorecard(invitation, db.session.get(User, lenny.id), result, "Too generous")
        after = calibration.build_calibration(calibration.CalibrationFilters(), n_boot=20)
        assert after is not before and after.headlines.most_lenient != "Lenny"


def test_interviewer_filter_own_ratings_or_everyone_on_their_panels(
    app, client, auth, panels, make_user, make_invitation
):
    _, (lenny, hana, omar) = panels
    zoe = make_user("interviewer", email="zoe@example.com", name="Zoe")
    hers = make_invitation(panel=[zoe, hana])[0]
    _card(app, hers, zoe, {"evaluation-rigor": 3, "communication": 3})
    _card(app, hers, hana, {"evaluation-rigor": 2, "communication": 2})
    with app.app_context():
        own = calibration.CalibrationFilters(interviewer=lenny.email, interviewer_scope=calibration.OWN_RATINGS)
        _, cards, _ = calibration.hiring_frames(own)
        assert set(cards.interviewer) == {"Lenny"} and len(cards) == 6
        theirs = calibration.CalibrationFilters(interviewer=lenny.email)
        _, cards, _ = calibration.hiring_frames(theirs)
        # Lenny's co-panelists on his six candidates, never Zoe (not on his panels) nor Hana's seventh.
        assert set(cards.interviewer) == {"Lenny", "Hana", "Omar"} and len(cards) == 18
        hana_own = calibration.CalibrationFilters(interviewer=hana.email, interviewer_scope=calibration.OWN_RATINGS)
        assert len(calibration.hiring_frames(hana_own)[1]) == 7
    admin = make_user("admin", email="boss@example.com")
    auth.login(admin.email)
    page = unescape(client.get(f"/calibration/?interviewer={lenny.email}&scope=own").get_data(as_text=True))
    assert f"this interviewer's own ratings: {lenny.email}" in page
    assert "everyone on their panels (their co-panelists" in page  # the other way is offered
    # One interviewer alone: leniency and reliability are collapsed, not a wall of dashes.
    assert page.count("Not enough data yet.") >= 2 and "– (– – –)" not in page
    assert 'id="most-lenient">no rater stands out<' in page
    panels_page = client.get(f"/calibration/?interviewer={lenny.email}&scope=panels").get_data(as_text=True)
    assert f"everyone on their panels: {lenny.email}" in panels_page
    assert 'id="most-lenient">Lenny<' in panels_page


def test_headlines_state_n_in_candidates_and_a_caveat_below_the_minimum(app, panels):
    with app.app_context():
        view = calibration.build_calibration(calibration.CalibrationFilters(), n_boot=20)
    h = view.headlines
    assert h.n_candidates == 6
    assert (h.most_lenient, h.most_lenient_n, h.most_lenient_small_n) == ("Lenny", 6, True)
    # Six candidates is below alpha's minimum of 10: the worst dimension is still named, with its caveat.
    assert h.least_reliable is not None and h.least_reliable_n == 6 and h.least_reliable_small_n
    assert h.rater_minimum == 10 and h.dimension_minimum == 10
    big, _ = simulate_panel(3, n_candidates=40, n_interviewers=6)
    with app.app_context():
        large = calibration.view_from_ratings(big, n_boot=20).headlines
    assert large.n_candidates == 40 and not large.least_reliable_small_n


def test_charts_and_tables_share_one_order_and_dimension_names(app, client, auth, panels, make_user):
    admin = make_user("admin", email="boss@example.com")
    auth.login(admin.email)
    page = client.get("/calibration/").get_data(as_text=True)
    with app.app_context():
        view = calibration.build_calibration(calibration.CalibrationFilters())
        names = calibration.dimension_names()
        rubric_order = [d.id for d in scorecards.rubric_for().dimensions]
    figures = {
        name: json.loads(page.split(f'id="figure-{name}">')[1].split("</script>")[0])
        for name in ("leniency", "reliability", "distribution")
    }
    overall = view.report.leniency[view.report.leniency.dimension == "overall"]
    assert list(overall.interviewer) == ["Lenny", *sorted({"Hana", "Omar"}, key=list(overall.interviewer).index)]
    assert [y.split(" (n =")[0] for y in figures["leniency"]["data"][0]["y"]] == list(overall.interviewer)
    assert figures["distribution"]["data"][0]["y"] == list(overall.interviewer)
    # Rows run top to bottom as the tables list them, and each error bar has a colour of its own.
    for figure in figures.values():
        assert figure["layout"]["yaxis"]["autorange"] == "reversed"
    assert figures["leniency"]["data"][0]["error_x"]["color"].startswith("#")
    assert figures["reliability"]["data"][0]["error_x"]["color"].startswith("#")
    dims = list(view.report.alpha.dimension)
    assert dims == sorted(dims, key=rubric_order.index)
    assert figures["reliability"]["data"][0]["y"] == [names[d] for d in dims]
    table = page.split("Krippendorff's alpha per dimension")[1].split("</table>")[0]
    assert [names[d] for d in dims] == [
        row.split('<th scope="row">')[1].split("<")[0].replace("&amp;", "&") for row in table.split("<tr>")[2:]
    ]


def test_csv_export_is_a_zip_of_one_rounded_table_each(app, client, auth, panels, make_user):
    admin = make_user("admin", email="boss@example.com")
    auth.login(admin.email)
    page = client.get("/calibration/").get_data(as_text=True)
    assert "CSV tables (zip)" in page
    response = client.get("/calibration/report.zip")
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="calibration-report.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    tables = {name.removesuffix(".csv") for name in archive.namelist() if name.endswith(".csv")}
    assert tables == {*FRAME_FIELDS, "headlines"}
    assert "every interviewer" in archive.read("README.txt").decode()
    with app.app_context():
        names = calibration.dimension_names()
    for name in tables:
        rows = list(csv.DictReader(io.StringIO(archive.read(f"{name}.csv").decode())))
        # Each file is its own table: no column that is empty on every row.
        for column in rows[0].keys() if rows else ():
            assert any(row[column] != "" for row in rows) or column in {"note", "flag"}, (name, column)
        for row in rows:
            for value in row.values():
                decimals = re.fullmatch(r"-?\d+\.(\d+)", value or "")
                assert decimals is None or len(decimals[1]) <= 3, (name, value)
    alpha = list(csv.DictReader(io.StringIO(archive.read("alpha.csv").decode())))
    assert {row["dimension_name"] for row in alpha} <= set(names.values()) and alpha
    headline = next(csv.DictReader(io.StringIO(archive.read("headlines.csv").decode())))
    assert headline["most_lenient"] == "Lenny" and headline["n_candidates"] == "6"
    disagreement = list(csv.DictReader(io.StringIO(archive.read("disagreements.csv").decode())))
    assert all("[" not in row["raters"] for row in disagreement)


def test_agenda_links_each_item_to_its_debrief_and_notebook(app, client, auth, panels, make_user):
    invitations, _ = panels
    _auto_grade(app, invitations[0], 0.5)
    with app.app_context():
        submission_id = db.session.scalars(
            select(Submission.id).where(Submission.invitation_id == invitations[0])
        ).one()
    admin = make_user("admin", email="boss@example.com")
    auth.login(admin.email)
    session = client.get("/calibration/session").get_data(as_text=True)
    for invitation_id in invitations:
        if f"(#{invitation_id})" in session:
            assert f'href="/panels/{invitation_id}/debrief"' in session
    assert f'href="/submissions/{submission_id}"' in session
