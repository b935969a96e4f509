"""Self-identification and the adverse impact report: the service, CSV errors, the CLI and the leak test."""

from __future__ import annotations

import ast
import csv
import io
import json
import math
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

import assessments
from assessments.errors import AccessDenied, InvalidInput
from assessments.extensions import db
from assessments.models import AuditEvent, Invitation, SelfIdentification, User
from assessments.models.types import utcnow
from assessments.services import adverse_impact, catalog, decisions, demo_fairness, fairness, invitations, outcomes
from assessments.stats.adverse_impact import rate_table
from tests.test_access import MATRIX, _mentorship
from tests.test_packets import _hostile_notebook, _scorecard, _submit_notebook

# Labels no page would print by chance: a page that shows one has read the self-identification table.
SEX_LABEL = "Zyxsexlabel"
RACE_LABEL = "Qwracelabel"
CATEGORIES = f"""
auto_grade_threshold = 0.5
decline = "Prefer not to say"
sex = ["{SEX_LABEL}", "Other sex"]
race_ethnicity = ["{RACE_LABEL}", "Other race"]
"""


@pytest.fixture
def labels(app) -> None:
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    (Path(app.instance_path) / "fairness.toml").write_text(CATEGORIES)


def _viewed(app) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "fairness.report_viewed")))


def test_the_candidate_answers_voluntarily_and_can_change_them(app, client, labels, make_invitation):
    invitation_id, token = make_invitation()
    page = client.get(f"/i/{token}/self-identification").get_data(as_text=True)
    assert "voluntary" in page.lower() and SEX_LABEL in page and "Prefer not to say" in page
    assert client.post(f"/i/{token}/self-identification", data={"sex": SEX_LABEL}).status_code == 302
    assert client.post(f"/i/{token}/self-identification", data={"sex": "Martian"}).status_code == 400
    client.post(f"/i/{token}/self-identification", data={"sex": "Prefer not to say", "race_ethnicity": RACE_LABEL})
    with app.app_context():
        row = db.session.scalar(select(SelfIdentification))
        assert (row.sex, row.race_ethnicity, row.source) == ("Prefer not to say", RACE_LABEL, "candidate")
        frame = fairness.applicant_frame()
    assert frame["sex"].isna().all()  # declined is unknown in the report
    assert frame["race_ethnicity"].tolist() == [RACE_LABEL]
    assert f"/i/{token}/self-identification" in client.get(f"/i/{token}").get_data(as_text=True)


def _pool(app, make_invitation, make_user) -> int:
    """Eight applications: graded, decided, with self-identification; "Other race" advances less."""
    admin_id = None
    plan = [  # (race, grade earned of 3, decision)
        (RACE_LABEL, 3.0, "advance"),
        (RACE_LABEL, 2.0, "advance"),
        (RACE_LABEL, 1.0, "reject"),
        (RACE_LABEL, 2.5, "advance"),
        ("Other race", 3.0, "reject"),
        ("Other race", 2.0, "advance"),
        ("Other race", 0.5, "reject"),
        (None, 2.0, "hold"),
    ]
    make_invitation()  # the admin
    for number, (race, earned, outcome) in enumerate(plan):
        with app.app_context():
            admin = db.session.scalar(select(User).where(User.email == "owner@example.com"))
            invitation, _ = invitations.invite_candidate(
                f"Person {number}",
                f"p{number}@example.org",
                catalog.find_current_case("tiny-hiring"),
                due_at=utcnow() + timedelta(days=3),
                panel=[],
                actor=admin,
                panel_later=True,
            )
            invitation_id = invitation.id
        _submit_notebook(app, invitation_id, _hostile_notebook(app))
        with app.app_context():
            invitation = db.session.get(Invitation, invitation_id)
            run = invitation.submissions[-1].grade_runs[-1]
            run.earned, run.possible = earned, 3.0
            db.session.add(SelfIdentification(candidate_id=invitation.candidate_id, sex=SEX_LABEL, race_ethnicity=race))
            db.session.commit()
            admin = db.session.scalar(select(User).where(User.email == "owner@example.com"))
            admin_id = admin.id
            decisions.record_decision(invitation, outcome, "", admin)
    return admin_id


def test_the_report_reads_the_apps_own_stages(app, labels, make_invitation, make_user):
    admin_id = _pool(app, make_invitation, make_user)
    with app.app_context():
        frame = fairness.applicant_frame().iloc[1:]  # the first invitation, never graded, only made the admin
        assert frame["passed_auto_grade"].tolist() == [1, 1, 0, 1, 1, 1, 0, 1]
        assert frame["advanced"].tolist()[:7] == [1, 1, 0, 1, 0, 1, 0] and math.isnan(frame["advanced"].iloc[7])
        report = fairness.adverse_impact_report(db.session.get(User, admin_id))
    advanced = next(s for s in report.stages if s.name == "advanced")
    race = next(p for p in advanced.breakdowns if p.by == "race_ethnicity").table
    rows = race.rows.set_index("group")
    assert race.reference == RACE_LABEL and race.unknown == 0  # the hold never reached the decision
    assert rows.loc["Other race", "impact_ratio"] == pytest.approx((1 / 3) / (3 / 4))
    independent = rate_table(pd.Series([RACE_LABEL] * 4 + ["Other race"] * 3), pd.Series([1, 1, 0, 1, 0, 1, 0]))
    assert rows.loc["Other race", "fisher_p"] == pytest.approx(
        independent.rows.set_index("group").loc["Other race", "fisher_p"]
    )
    scoring = next(s for s in report.stages if s.name == "auto_grade")
    assert scoring.cut == pytest.approx(2.0 / 3.0)
    assert next(p for p in scoring.breakdowns if p.by == "race_ethnicity").table.unknown == 1
    assert any(f.group == "Other race" and f.stage == "Advanced after the debrief" for f in report.flags)
    assert len(_viewed(app)) == 1
    data = json.loads(adverse_impact.export_json(report))
    assert {s["name"] for s in data["stages"]} == {"passed_auto_grade", "advanced", "hired", "auto_grade"}
    assert "Other race" in adverse_impact.export_csv(report)


def test_the_hired_stage_reads_the_outcomes_admins_record(app, labels, make_invitation, make_user):
    admin_id = _pool(app, make_invitation, make_user)
    with app.app_context():
        admin = db.session.get(User, admin_id)
        frame = fairness.applicant_frame()
        assert frame["hired"].isna().all()  # no outcome recorded: nobody reached the stage
        advanced = [int(c.removeprefix("#")) for c in frame.loc[frame["advanced"] == 1, "candidate"]]
        invitations = [db.session.get(Invitation, i) for i in advanced[:3]]
        for invitation, hired in zip(invitations, (True, True, False), strict=True):
            outcomes.record_outcome(invitation.candidate_id, outcomes.OutcomeValues(hired=hired), admin)
        frame = fairness.applicant_frame().set_index("candidate")
        assert [frame.loc[f"#{i.id}", "hired"] for i in invitations] == [1.0, 1.0, 0.0]
        assert frame["hired"].notna().sum() == 3


def test_only_auditors_read_the_report_and_import(app, labels, make_user):
    interviewer = make_user("interviewer")
    with app.app_context(), pytest.raises(AccessDenied):
        fairness.adverse_impact_report(db.session.get(User, interviewer.id))
    with app.app_context(), pytest.raises(AccessDenied):
        fairness.import_self_identification(b"candidate,sex,race_ethnicity\n", db.session.get(User, interviewer.id))


def test_import_names_bad_lines_and_stores_nothing_then_stores_a_good_file(app, labels, make_invitation):
    make_invitation()
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "owner@example.com"))
        bad = (
            "candidate,sex,race_ethnicity\n"
            f"casey@example.org,{SEX_LABEL},Martian\n"
            "nobody@example.org,,\n"
            "casey@example.org,,\n"
        )
        with pytest.raises(InvalidInput) as error:
            fairness.import_self_identification(bad.encode(), admin)
        message = error.value.message
        assert "line 4" in message and "also on line 2" in message
        assert db.session.scalar(select(SelfIdentification)) is None
        with pytest.raises(InvalidInput) as error:
            fairness.import_self_identification(b"candidate,sex,race_ethnicity\ncasey@example.org,x,Martian\n", admin)
        assert "line 2" in error.value.message and db.session.scalar(select(SelfIdentification)) is None
        assert (
            fairness.import_self_identification(
                f"Candidate;Sex;Race_Ethnicity\nCASEY@example.org;{SEX_LABEL};\n".encode(), admin
            )
            == 1
        )
        row = db.session.scalar(select(SelfIdentification))
        assert (row.sex, row.race_ethnicity, row.source) == (SEX_LABEL, None, "import")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("candidate,sex\n", "line 1, column race_ethnicity: this column is missing"),
        ("candidate,sex,race_ethnicity,hired\na,F,W,2\n", "line 2, column hired"),
        ("candidate,sex,race_ethnicity,auto_grade\na,F,W,0.5\nb,F,W,high\n", "line 3, column auto_grade"),
        ("candidate,sex,race_ethnicity\na,F,W\na,M,W\n", "line 3, column candidate"),
        ("candidate,sex,race_ethnicity\na,F\n", "line 2: 2 cells"),
    ],
)
def test_csv_errors_are_named_by_line(app, labels, text, expected):
    with app.app_context(), pytest.raises(InvalidInput) as error:
        fairness.outcomes_from_csv(text)
    assert expected in error.value.message


def test_cli_report_from_a_csv_export(app, labels, runner, tmp_path):
    rows = ["candidate,sex,race_ethnicity,advanced,hired,auto_grade"]
    rows += [f"a{i},F,A,1,{int(i < 6)},{0.5 + i / 100}" for i in range(10)]
    rows += [f"b{i},M,B,{int(i < 4)},{int(i < 1)},{0.4 + i / 100}" for i in range(10)]
    rows += ["c0,,,1,0,", "c1,Prefer not to say,A,0,,0.9"]
    source = tmp_path / "outcomes.csv"
    source.write_text("\n".join(rows) + "\n")
    result = runner.invoke(args=["fairness", "report", "--from", str(source), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    hired = next(s for s in data["stages"] if s["name"] == "hired")
    race = next(b for b in hired["breakdowns"] if b["by"] == "race_ethnicity")
    b_row = next(r for r in race["rows"] if r["group"] == "B")
    assert b_row["impact_ratio"] == pytest.approx((1 / 10) / (6 / 10))  # c1 has no hired cell: not reached
    assert next(b for b in hired["breakdowns"] if b["by"] == "sex")["unknown"] == 1  # c0, whose categories are empty
    text = runner.invoke(args=["fairness", "report", "--from", str(source)])
    assert "UNDER 4/5" in text.output
    bad = tmp_path / "bad.csv"
    bad.write_text("candidate,sex,race_ethnicity,hired\nx,F,A,yes\n")
    failed = runner.invoke(args=["fairness", "report", "--from", str(bad)])
    assert failed.exit_code != 0 and "line 2, column hired" in failed.output
    assert len(_viewed(app)) == 2


def test_no_interviewer_or_mentor_facing_page_or_export_shows_self_identification(
    app, client, auth, labels, make_invitation, make_user
):
    alice = make_user("interviewer", email="alice@example.com")
    mentor = make_user("mentor")
    invitation_id, token = make_invitation(panel=[alice])
    _submit_notebook(app, invitation_id, _hostile_notebook(app))
    _scorecard(app, invitation_id, alice, "Saw the SRM", "yes")
    client.post(f"/i/{token}/self-identification", data={"sex": SEX_LABEL, "race_ethnicity": RACE_LABEL})
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        admin = db.session.scalar(select(User).where(User.email == "owner@example.com"))
        decisions.record_decision(invitation, "advance", "ok", admin)
        submission_id = invitation.submissions[-1].id
        assert db.session.scalar(select(SelfIdentification)).sex == SEX_LABEL
    ids = dict(invitation_id=invitation_id, token=token, submission_id=submission_id, **_mentorship(app))
    checked = 0
    for who in (alice.email, mentor.email, "owner@example.com"):
        auth.login(who)
        for endpoint, (method, template, _) in MATRIX.items():
            # The fairness report is the one reader; the candidate's own form shows them their answers.
            if method != "GET" or endpoint.startswith("fairness.") or endpoint == "candidate.self_identification":
                continue
            if template.endswith(".pdf") or endpoint in ("static", "vendor.plotly_js"):
                # The PDF prints the packet page checked here as HTML; static files hold no data.
                continue
            response = client.get(template.format(**ids))
            body = response.get_data()  # bundles are zips: look at the bytes
            response.close()
            assert SEX_LABEL.encode() not in body and RACE_LABEL.encode() not in body, (who, endpoint)
            checked += response.status_code == 200
        auth.logout()
    assert checked > 30
    auth.login("owner@example.com")
    assert SEX_LABEL in client.get("/admin/fairness/").get_data(as_text=True)


def test_only_the_fairness_service_reads_self_identification():
    # No other module names the table's class, so no page, export or packet can load it.
    root = Path(assessments.__file__).parent
    readers = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
            if "SelfIdentification" in names or (isinstance(node, ast.Attribute) and node.attr == "SelfIdentification"):
                readers.add(str(path.relative_to(root)))
    assert readers - {"models/__init__.py"} == {"services/fairness.py", "services/demo_fairness.py"}


def test_the_demo_pool_plants_one_disparity_at_one_stage(app, make_invitation):
    make_invitation()
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "owner@example.com"))
        assert demo_fairness.seed_fairness_pool(admin, catalog.current_cases(hiring=True)) == demo_fairness.POOL_SIZE
        assert demo_fairness.seed_fairness_pool(admin, catalog.current_cases(hiring=True)) == demo_fairness.POOL_SIZE
        report = fairness.adverse_impact_report(admin, exclude_small=True)
    planted = demo_fairness.planted_disparity()
    race_flags = [(f.stage, f.group) for f in report.flags if f.breakdown == planted.breakdown_label]
    assert (planted.stage_label, planted.group) in race_flags
    flag = next(
        f
        for f in report.flags
        if (f.stage, f.breakdown, f.group) == (planted.stage_label, planted.breakdown_label, planted.group)
    )
    assert flag.impact_ratio < 0.5 and flag.fisher_p < 0.01
    # The auto-grade was drawn independently of every group: nothing planted there.
    assert not [g for s, g in race_flags if s != planted.stage_label and g == planted.group]


def test_downloads_are_attachments_each_audited_and_csv_cells_cannot_be_formulas(app, client, auth, labels, make_user):
    with app.app_context():
        report = adverse_impact.build_report(
            fairness.outcomes_from_csv("candidate,sex,race_ethnicity,hired\na,=HYPERLINK(1),W,1\nb,M,W,0\n"),
            source="a CSV export",
        )
    rows = list(csv.DictReader(io.StringIO(adverse_impact.export_csv(report))))
    assert "'=HYPERLINK(1)" in {r["group"] for r in rows}
    assert "=HYPERLINK(1)" not in {r["group"] for r in rows}
    auditor = make_user("admin")
    auth.login(auditor.email)
    for fmt, kind in (("csv", "text/csv"), ("json", "application/json"), ("html", "text/html")):
        response = client.get(f"/admin/fairness/report.{fmt}?exclude_small=1")
        assert response.status_code == 200 and response.mimetype == kind
        assert response.headers["Content-Disposition"] == f'attachment; filename="adverse-impact.{fmt}"'
    assert client.get("/admin/fairness/report.xlsx").status_code == 404
    assert [e.details["how"] for e in _viewed(app)] == ["csv", "json", "html"]
