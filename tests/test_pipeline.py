"""The hiring pipeline: stages, overdue, search, filters and pages, and the recorded decision."""

from __future__ import annotations

from datetime import timedelta

import pytest

from assessments.errors import AccessDenied, InvalidInput
from assessments.extensions import db
from assessments.models import (
    GradeRun,
    GradeStatus,
    Invitation,
    Scorecard,
    ScorecardDraft,
    ScorecardStatus,
    Submission,
    User,
)
from assessments.models.types import utcnow
from assessments.services import decisions, invitations, pipeline
from assessments.services.pipeline import PipelineFilters


def _rows(**filters):
    return pipeline.list_pipeline(PipelineFilters(**filters)).rows


def _total(**filters):
    total = pipeline.list_pipeline(PipelineFilters(**filters)).total
    # The dashboard's counts come from count_pipeline: the same number without the rows.
    assert pipeline.count_pipeline(PipelineFilters(**filters)) == total
    return total


def _submit(invitation_id: int, *, at=None, done: bool = False) -> None:
    submission = Submission(
        invitation_id=invitation_id, version=1, sha256="0" * 64, size=1, filename="nb.ipynb", uploaded_at=at or utcnow()
    )
    db.session.add(submission)
    db.session.flush()
    if done:
        db.session.add(
            GradeRun(submission_id=submission.id, grader_version="t", case_version="t", status=GradeStatus.DONE)
        )
    db.session.commit()


def _scorecard(invitation_id: int, user_id: int) -> None:
    db.session.add(
        Scorecard(
            invitation_id=invitation_id,
            interviewer_id=user_id,
            rubric_slug="r",
            rubric_version="v",
            status=ScorecardStatus.SUBMITTED,
            submitted_at=utcnow(),
        )
    )
    db.session.commit()


def test_a_candidate_moves_through_every_stage(app, make_user, make_invitation):
    admin = make_user("admin", email="boss@example.com")
    iris = make_user("interviewer", email="iris@example.com")
    omar = make_user("interviewer", email="omar@example.com")
    invitation_id, token = make_invitation(panel=[iris, omar])
    with app.app_context():

        def stage():
            (row,) = _rows()
            return row.stage_label

        assert stage() == "invited"
        invitations.open_invitation(token)
        assert stage() == "opened the link"
        invitation = db.session.get(Invitation, invitation_id)
        invitation.first_downloaded_at = utcnow()
        db.session.commit()
        assert stage() == "downloaded"
        _submit(invitation_id)
        assert stage() == "submitted"
        db.session.add(
            GradeRun(
                submission_id=invitation.submissions[0].id,
                grader_version="t",
                case_version="t",
                status=GradeStatus.DONE,
            )
        )
        db.session.commit()
        assert stage() == "checked"
        _scorecard(invitation_id, iris.id)
        assert stage() == "scorecards 1 of 2"
        _scorecard(invitation_id, omar.id)
        assert stage() == "debriefed"
        decisions.record_decision(invitation, "advance", "Strong on evaluation.", db.session.get(User, admin.id))
        (row,) = _rows()
        assert row.stage_label == "decided: advance"
        assert row.decided_by == "Admin" or row.decided_by
        assert row.decided_at is not None


def test_overdue_submission_and_overdue_scorecards(app, make_user, make_invitation):
    iris = make_user("interviewer", email="iris@example.com")
    late_id, _ = make_invitation(panel=[iris], days=1)
    waiting_id, _ = make_invitation(panel=[iris], days=5)
    fresh_id, _ = make_invitation(panel=[iris], days=5)
    with app.app_context():
        late = db.session.get(Invitation, late_id)
        late.due_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        _submit(waiting_id, at=utcnow() - timedelta(days=3), done=True)
        _submit(fresh_id, at=utcnow() - timedelta(hours=3), done=True)
        overdue = {r.invitation_id: r.overdue for r in _rows(overdue=True)}
        assert set(overdue) == {late_id, waiting_id}
        assert "deadline passed without a submission" in overdue[late_id]
        assert "scorecards due two days after the submission" in overdue[waiting_id]
        _scorecard(waiting_id, iris.id)
        assert {r.invitation_id for r in _rows(overdue=True)} == {late_id}


def test_the_dashboard_summary_and_unfiltered_pages_agree_with_the_stage_filters(app, make_user, make_invitation):
    # The dashboard counts in one pass and an unfiltered page aggregates only its own invitations;
    # both must say what filtering every invitation by its stage says.
    admin = make_user("admin", email="boss@example.com")
    iris = make_user("interviewer", email="iris@example.com")
    late_id, _ = make_invitation(panel=[iris], days=1)
    make_invitation(panel_later=True)
    waiting_id, _ = make_invitation(panel=[iris])
    debriefed = [make_invitation(panel=[iris])[0] for _ in range(3)]
    decided_id, _ = make_invitation(panel=[iris])
    with app.app_context():
        db.session.get(Invitation, late_id).due_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        _submit(waiting_id, at=utcnow() - timedelta(days=3), done=True)
        for invitation_id in [*debriefed, decided_id]:
            _submit(invitation_id, done=True)
            _scorecard(invitation_id, iris.id)
        decisions.record_decision(
            db.session.get(Invitation, decided_id), "advance", "Clear on metrics.", db.session.get(User, admin.id)
        )
        summary = pipeline.hiring_summary(per_list=2)
        assert (summary.overdue, summary.needs_panel) == (_total(overdue=True), _total(needs_panel=True)) == (2, 1)
        assert summary.to_decide.total == _total(stage="debriefed") == 3
        assert [r.invitation_id for r in summary.to_decide.rows] == debriefed[::-1][:2]
        assert (summary.recent.total, summary.recent.pages) == (7, 4)
        assert [r.invitation_id for r in summary.recent.rows] == [decided_id, debriefed[-1]]
        by_stage = {r.invitation_id: r for stage in pipeline.STAGES for r in _rows(stage=stage)}
        unfiltered = _rows() + pipeline.list_pipeline(PipelineFilters(page=2), per_page=4).rows
        assert len(unfiltered) == 7 + 3
        assert all(row == by_stage[row.invitation_id] for row in unfiltered)
        assert {r.invitation_id for r in unfiltered if r.overdue} == {late_id, waiting_id}


def test_search_filters_and_pages(app, make_user, make_invitation):
    admin = make_user("admin", email="boss@example.com")
    iris = make_user("interviewer", email="iris@example.com")
    make_invitation(panel=[iris])
    make_invitation(panel_later=True)
    with app.app_context():
        from assessments.services import catalog

        actor = db.session.get(User, admin.id)
        case = catalog.find_current_case("tiny-hiring")
        for i in range(30):
            invitations.invite_candidate(
                f"Person {i:02d}",
                f"person{i}@example.org",
                case,
                due_at=utcnow() + timedelta(days=3),
                panel=[],
                actor=actor,
                panel_later=True,
            )
        assert len(_rows(search="casey")) == 2
        assert len(_rows(search="PERSON7@")) == 1
        assert len(_rows(search="100%")) == 0
        assert _total(needs_panel=True) == 31
        assert _total(case="tiny-hiring") == 32
        assert _rows(case="no-such-case") == []
        assert _total(stage="invited") == 32
        assert _rows(stage="submitted") == []
        today = utcnow().date()
        assert _total(invited_from=today, invited_to=today) == 32
        assert _rows(invited_from=today + timedelta(days=1)) == []
        first = pipeline.list_pipeline(PipelineFilters())
        second = pipeline.list_pipeline(PipelineFilters(page=2))
        assert (first.total, first.pages, len(first.rows), len(second.rows)) == (32, 2, 25, 7)
        assert not {r.invitation_id for r in first.rows} & {r.invitation_id for r in second.rows}
        assert pipeline.list_pipeline(PipelineFilters(page=99)).page == 2


def test_the_pipeline_page_filters_and_shows_needs_a_panel(app, client, auth, make_user, make_invitation):
    make_user("admin", email="boss@example.com")
    make_invitation(panel_later=True)
    auth.login("boss@example.com")
    page = client.get("/admin/invitations").get_data(as_text=True)
    assert "Hiring pipeline" in page and "needs a panel" in page and "Casey Candidate" in page
    assert "Casey" not in client.get("/admin/invitations?q=nobody").get_data(as_text=True).split('role="status"')[1]
    bad = client.get("/admin/invitations?invited_from=yesterday&page=-3")
    assert bad.status_code == 200 and "Casey Candidate" in bad.get_data(as_text=True)


def test_decision_is_recorded_only_by_hiring_managers(app, make_user, make_invitation):
    iris = make_user("interviewer", email="iris@example.com")
    admin = make_user("admin", email="boss@example.com")
    invitation_id, _ = make_invitation(panel=[iris])
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        with pytest.raises(AccessDenied):
            decisions.record_decision(invitation, "advance", "", db.session.get(User, iris.id))
        with pytest.raises(InvalidInput):
            decisions.record_decision(invitation, "maybe", "", db.session.get(User, admin.id))
        decisions.record_decision(invitation, "hold", "Wait for the second case.", db.session.get(User, admin.id))
        decisions.record_decision(invitation, "reject", "", db.session.get(User, admin.id))
        assert decisions.current_decision(invitation).outcome == "reject"


def test_the_debrief_records_the_decision_and_the_pipeline_shows_it(app, client, auth, make_user, make_invitation):
    make_user("admin", email="boss@example.com", name="Bea Boss")
    iris = make_user("interviewer", email="iris@example.com")
    invitation_id, _ = make_invitation(panel=[iris])
    auth.login("boss@example.com")
    debrief = client.get(f"/panels/{invitation_id}/debrief").get_data(as_text=True)
    assert "No decision yet" in debrief
    refused = client.post(f"/panels/{invitation_id}/decision", data={"note": "?"})
    assert "Choose advance, reject or hold" in client.get(refused.headers["Location"]).get_data(as_text=True)
    done = client.post(f"/panels/{invitation_id}/decision", data={"outcome": "advance", "note": "Clear SRM reasoning."})
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Decided: <strong>advance</strong>, by Bea Boss" in page and "Clear SRM reasoning." in page
    detail = client.get(f"/admin/invitations/{invitation_id}").get_data(as_text=True)
    assert "Decision: <strong>advance</strong> by Bea Boss" in detail
    pipeline_page = client.get("/admin/invitations?stage=decided").get_data(as_text=True)
    assert "decided: advance" in pipeline_page and "Bea Boss" in pipeline_page
    client.post("/logout")
    auth.login("iris@example.com")
    assert client.post(f"/panels/{invitation_id}/decision", data={"outcome": "reject"}).status_code == 403


def test_interviewer_dashboard_puts_scorecards_to_write_first_newest_first(
    app, client, auth, make_user, make_invitation
):
    iris = make_user("interviewer", email="iris@example.com")
    older_id, _ = make_invitation(panel=[iris])
    newer_id, _ = make_invitation(panel=[iris])
    waiting_id, _ = make_invitation(panel=[iris])
    done_id, _ = make_invitation(panel=[iris])
    with app.app_context():
        _submit(older_id, at=utcnow() - timedelta(days=2))
        _submit(newer_id, at=utcnow() - timedelta(hours=1))
        _submit(done_id, at=utcnow() - timedelta(days=3))
        _scorecard(done_id, iris.id)
        from assessments.services import panels

        board = panels.interviewer_dashboard(db.session.get(User, iris.id))
        assert [a.invitation.id for a in board.to_write] == [newer_id, older_id]
        assert [a.invitation.id for a in board.upcoming] == [waiting_id]
        assert [a.invitation.id for a in board.past] == [done_id]
    auth.login("iris@example.com")
    page = client.get("/dashboard").get_data(as_text=True)
    assert (
        page.index("Scorecards waiting for you") < page.index("has not submitted yet") < page.index("Your past panels")
    )
    assert "Hiring pipeline" not in page


def test_admin_dashboard_is_the_pipeline(app, client, auth, make_user, make_invitation):
    make_user("admin", email="boss@example.com")
    invitation_id, _ = make_invitation(panel_later=True)
    with app.app_context():
        db.session.get(Invitation, invitation_id).due_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    auth.login("boss@example.com")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Hiring pipeline" in page and "Casey Candidate" in page
    assert "Needs a panel (1)" in page and "Overdue (1)" in page


def test_a_removed_panelists_scorecard_is_kept_but_not_counted(app, make_user, make_invitation):
    admin = make_user("admin", email="boss@example.com")
    iris = make_user("interviewer", email="iris@example.com")
    omar = make_user("interviewer", email="omar@example.com")
    first_id, _ = make_invitation(panel=[iris, omar])
    make_invitation(panel=[iris])  # Iris still sits on another panel
    with app.app_context():
        from assessments.services import panels

        _submit(first_id, done=True)
        _scorecard(first_id, iris.id)
        first = db.session.get(Invitation, first_id)
        assert panels.remove_panel_member(first, db.session.get(User, iris.id), db.session.get(User, admin.id))
        row = next(r for r in _rows() if r.invitation_id == first_id)
        assert (row.scorecards_in, row.panel_size, row.stage) == (0, 1, "checked")


def test_dashboard_puts_actionable_work_first_and_folds_finished_rows(app, client, auth, make_user, make_invitation):
    boss = make_user("admin", email="boss@example.com")
    to_write_id, _ = make_invitation(panel=[boss])
    drafted_id, _ = make_invitation(panel=[boss])
    done_id, _ = make_invitation(panel=[boss])
    with app.app_context():
        for invitation_id in (to_write_id, drafted_id, done_id):
            _submit(invitation_id, done=True)
        _scorecard(done_id, boss.id)
        db.session.add(
            ScorecardDraft(invitation_id=drafted_id, interviewer_id=boss.id, rubric_slug="r", rubric_version="v")
        )
        db.session.commit()
    auth.login("boss@example.com")
    page = client.get("/dashboard").get_data(as_text=True)
    # What waits for this person comes first; the pipeline's recent rows and past panels are folded away.
    assert page.index("Scorecards waiting for you") < page.index("Hiring pipeline")
    assert page.index("Ready for a hiring decision") < page.index("Recent invitations")
    decide = page[page.index("Ready for a hiring decision") : page.index("Recent invitations")]
    assert f"/admin/invitations/{done_id}" in decide
    assert f"/admin/invitations/{to_write_id}" not in decide
    assert '<details class="past-panels">\n<summary>Recent invitations' in page
    assert '<details class="past-panels">\n<summary id="past-heading">Your past panels (1,' in page
    waiting = page[page.index("Scorecards waiting for you") : page.index("Hiring pipeline")]
    assert waiting.count("Resume draft") == 1 and waiting.count("Fill scorecard") == 1


def test_an_interviewers_dashboard_blinds_each_row_by_their_own_scorecard_without_a_query_per_row(
    app, client, auth, make_user, make_invitation
):
    from sqlalchemy import event

    from assessments.services import blinding

    iris = make_user("interviewer", email="iris@example.com")
    auth.login("iris@example.com")

    def add_rows(n: int) -> list[int]:
        # Blind invitations (the default) with a notebook in; Iris has scored every other one.
        ids = [make_invitation(panel=[iris])[0] for _ in range(n)]
        with app.app_context():
            for i, invitation_id in enumerate(ids):
                _submit(invitation_id, done=True)
                if i % 2 == 0:
                    _scorecard(invitation_id, iris.id)
        return ids

    def dashboard() -> tuple[str, int]:
        statements: list[str] = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            page = client.get("/dashboard").get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return page, len(statements)

    ids = add_rows(2)
    _, few_rows = dashboard()
    ids += add_rows(6)
    page, many_rows = dashboard()
    assert many_rows == few_rows
    with app.app_context():
        codes = {i: blinding.candidate_code(db.session.get(Invitation, i)) for i in ids}
    scored = ids[0::2]
    waiting = page[page.index("Scorecards waiting for you") : page.index("Your past panels")]
    past = page[page.index("Your past panels") :]
    # Scored rows show the name (past panels), the others their own code, on each of the three
    # mentions of a row: the name cell, and the version link and the button as read aloud.
    assert past.count("Casey Candidate") == 3 * len(scored)
    assert all(codes[i] not in page for i in scored)
    assert all(waiting.count(codes[i]) == 3 for i in ids if i not in scored)
    assert "Casey Candidate" not in waiting
