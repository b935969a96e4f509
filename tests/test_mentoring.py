"""Mentors: pairing, what a mentor may see, mentoring reviews, calibration isolation, progress."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from assessments.errors import AccessDenied
from assessments.extensions import db
from assessments.models import AuditEvent, Invitation, MentorPairing, PracticeAttempt, Scorecard, User
from assessments.scorecard import ScorecardResult
from assessments.services import calibration, catalog, mentoring, practice, progress, scorecards
from assessments.services.calibration import CalibrationFilters
from tests.test_practice import REVIEW, _flags, _planted, use_practice_cases


@pytest.fixture
def cases(app, tmp_path):
    """The practice fixture cases, synced."""
    use_practice_cases(app, tmp_path / "cases")


def _user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def _review_attempt(app, mentee_email: str, seed: int = 9, share: int = 1):
    """A graded browser attempt on the review case finding `share` planted defects; returns its id."""
    with app.app_context():
        own = practice.start_practice(_user(mentee_email), REVIEW, seed=seed)
        return practice.submit_review_attempt(own, _flags(_planted(app, practice.data_seed(own))[:share])).id


def _pair(app, mentor_email: str, mentee_email: str, admin_email: str) -> None:
    with app.app_context():
        mentoring.pair(_user(mentor_email), _user(mentee_email), _user(admin_email))


def _review_form(dimensions, level: int = 3, final: bool = True) -> dict[str, str]:
    form = {"takeaways": "Check the split before the model."}
    for dim in dimensions:
        key = dim.replace("-", "_")
        form[f"rating_{key}"] = str(level)
        form[f"evidence_{key}"] = "Flagged the leaking feature with a clear reason."
    form["submit" if final else "save_draft"] = "1"
    return form


def test_admin_pairs_and_unpairs_a_mentor_and_mentee(app, client, auth, make_user):
    admin, mentor, mentee = make_user("admin"), make_user("mentor"), make_user("mentee")
    auth.login(admin.email)
    response = client.post("/mentoring/pairs", data={"mentor": mentor.id, "mentee": mentee.id})
    assert response.status_code == 302
    page = client.get("/mentoring/pairs").get_data(as_text=True)
    assert mentor.display_name in page and mentee.display_name in page
    # A mentee cannot be chosen as a mentor.
    assert client.post("/mentoring/pairs", data={"mentor": mentee.id, "mentee": mentee.id}).status_code == 400
    with app.app_context():
        pairing = db.session.scalar(select(MentorPairing))
        assert (pairing.mentor_id, pairing.mentee_id) == (mentor.id, mentee.id)
        pairing_id = pairing.id
    assert client.post(f"/mentoring/pairs/{pairing_id}/end").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(MentorPairing)) is None
        actions = [
            e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "mentor_pairing"))
        ]
        assert actions == ["mentoring.paired", "mentoring.unpaired"]


def test_mentor_sees_only_their_own_mentees(app, client, auth, make_user, cases):
    admin, mentor = make_user("admin"), make_user("mentor")
    mine, other = make_user("mentee", name="Mine Mentee"), make_user("mentee", name="Other Mentee")
    _pair(app, mentor.email, mine.email, admin.email)
    my_attempt = _review_attempt(app, mine.email)
    their_attempt = _review_attempt(app, other.email)
    auth.login(mentor.email)
    overview = client.get("/mentoring/").get_data(as_text=True)
    assert "Mine Mentee" in overview and "Other Mentee" not in overview
    assert client.get(f"/mentoring/mentees/{mine.id}").status_code == 200
    assert client.get(f"/mentoring/attempts/{my_attempt}").status_code == 200
    assert client.get(f"/mentoring/mentees/{other.id}").status_code == 403
    assert client.get(f"/mentoring/attempts/{their_attempt}").status_code == 403
    assert client.get(f"/mentoring/attempts/{their_attempt}/review").status_code == 403
    with app.app_context():
        rubric = scorecards.rubric_for()
        result = ScorecardResult(rubric.slug, rubric.content_hash, {"modeling": 3}, {}, (), "", None, True)
        with pytest.raises(AccessDenied):
            mentoring.save_review(db.session.get(PracticeAttempt, their_attempt), _user(mentor.email), result)
        assert db.session.scalar(select(Scorecard)) is None


def test_mentor_reviews_an_attempt_with_the_rubric_and_the_mentee_reads_it(app, client, auth, make_user, cases):
    admin, mentor, mentee = make_user("admin"), make_user("mentor", name="Mira Mentor"), make_user("mentee")
    _pair(app, mentor.email, mentee.email, admin.email)
    attempt_id = _review_attempt(app, mentee.email)
    auth.login(mentor.email)
    form_page = client.get(f"/mentoring/attempts/{attempt_id}/review").get_data(as_text=True)
    # The dimensions the review case's parts exercise, with the rubric's anchors.
    assert "Evaluation rigor &amp; statistics" in form_page and "Modeling &amp; feature strategy" in form_page
    assert "Communication &amp; stakeholder management" in form_page
    assert "Overall recommendation" not in form_page
    # The review case's parts exercise exactly these dimensions (rubric order).
    dims = ["modeling", "evaluation-rigor", "communication"]
    # Mentoring wording: a missing piece of evidence is asked of the mentee's attempt, not a candidate.
    unexplained = {**_review_form(dims), "evidence_modeling": "", "rating_communication": ""}
    refused = client.post(f"/mentoring/attempts/{attempt_id}/review", data=unexplained)
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "what your mentee said or did" in text and "if the attempt did not cover it" in text
    assert "candidate" not in text.lower() and "interview did not" not in text
    assert client.post(f"/mentoring/attempts/{attempt_id}/review", data=_review_form(dims)).status_code == 302
    with app.app_context():
        review = db.session.scalar(select(Scorecard))
        assert review.purpose == "mentoring"
        assert review.invitation_id is None and review.practice_attempt_id == attempt_id
        assert review.recommendation is None
        assert {r.dimension_id: r.level for r in review.ratings} == {d: 3 for d in dims}
    # Submitted reviews are locked: the form sends the mentor back to the attempt.
    assert client.get(f"/mentoring/attempts/{attempt_id}/review").status_code == 302
    auth.logout()
    auth.login(mentee.email)
    page = client.get(f"/practice/attempts/{attempt_id}").get_data(as_text=True)
    assert "Mira Mentor" in page and "Flagged the leaking feature" in page


def test_a_mentoring_review_never_appears_in_the_calibration_report(
    app, client, auth, make_user, make_invitation, cases
):
    admin = make_user("admin")
    interviewer = make_user("interviewer", name="Iris Interviewer")
    mentor, mentee = make_user("mentor", name="Mira Mentor"), make_user("mentee")
    invitation_id, _ = make_invitation(panel=[interviewer])
    _pair(app, mentor.email, mentee.email, admin.email)
    attempt_id = _review_attempt(app, mentee.email)
    with app.app_context():
        rubric = scorecards.rubric_for()
        invitation = db.session.get(Invitation, invitation_id)
        focus = scorecards.kit_for(invitation).focus_dimension_ids
        hiring = ScorecardResult(rubric.slug, rubric.content_hash, {d: 2 for d in focus}, {}, (), "", "no", True)
        scorecards.save_scorecard(invitation, _user(interviewer.email), hiring)
        attempt = mentoring.attempt_for(_user(mentor.email), attempt_id)
        dims = mentoring.review_dimensions(attempt, rubric)
        mentoring.save_review(
            attempt,
            _user(mentor.email),
            ScorecardResult(rubric.slug, rubric.content_hash, {d: 4 for d in dims}, {}, (), "", None, True),
        )
        assert len(db.session.scalars(select(Scorecard)).all()) == 2
        ratings, cards, _ = calibration.hiring_frames(CalibrationFilters())
        assert set(ratings["interviewer"]) == {"Iris Interviewer"}
        assert len(ratings) == len(focus) and set(ratings["rating"]) == {2.0}
        assert list(cards["interviewer"]) == ["Iris Interviewer"]
        assert [name for _, name in calibration.interviewer_choices()] == ["Iris Interviewer"]
    auth.login(admin.email)
    exported = client.get("/calibration/report.json")
    assert exported.status_code == 200
    assert "Mira Mentor" not in exported.get_data(as_text=True)


def test_progress_shows_trends_per_dimension_and_suggests_the_weakest(app, client, auth, make_user, cases):
    admin, mentor, mentee = make_user("admin"), make_user("mentor"), make_user("mentee")
    _pair(app, mentor.email, mentee.email, admin.email)
    app.config.update(PRACTICE_MIN_SECONDS_BETWEEN_ATTEMPTS=0)
    with app.app_context():
        own = practice.start_practice(_user(mentee.email), REVIEW, seed=9)
        planted = _planted(app, practice.data_seed(own))
        first = practice.submit_review_attempt(own, _flags(planted[:1]))
        second = practice.submit_review_attempt(own, _flags(planted[:2]))
        assert not second.after_solution, "feedback does not open the solution: trying again counts"
        practice.unlock_solution(own, own.mentee)
        third = practice.submit_review_attempt(own, _flags(planted))
        assert third.after_solution and not first.after_solution
        shown = progress.mentee_progress(_user(mentee.email))
        rows = {row.dimension_id: row for row in shown.dimensions}
        # The review case's one checked part exercises both of these dimensions: one score per attempt.
        for dim in ("evaluation-rigor", "modeling"):
            assert [e.value for e in rows[dim].auto] == pytest.approx([1 / len(planted), 2 / len(planted), 1.0])
            # The third attempt came after the solution opened: shown, but neither recent nor in the trend;
            # the second, a better retry of the same case, is the current evidence.
            assert rows[dim].recent == pytest.approx(2 / len(planted))
            assert rows[dim].trend == progress.Trend(pytest.approx(1 / len(planted)), 2, 1)
        assert rows["communication"].auto == [] and rows["communication"].recent is None
        # Modeling and rigor are weak (below 70%) and measured: the suggestion follows that evidence.
        assert shown.suggestion is not None and shown.suggestion.dimension_id in ("evaluation-rigor", "modeling")
        specs = catalog.case_specs()
        assert shown.suggestion.dimension_id in practice.main_dimensions(specs[shown.suggestion.case.slug])
        suggested = shown.suggestion.case.title
    auth.login(mentee.email)
    page = client.get("/practice/progress").get_data(as_text=True)
    assert "Next suggested exercise" in page and suggested in page
    figure = json.loads(
        re.search(r'<script type="application/json" id="figure-progress">(.*?)</script>', page, re.S).group(1)
    )
    assert {trace["name"] for trace in figure["data"]} >= {"Evaluation rigor & statistics (auto-graded)"}
    assert "<script>" not in page, "no inline script: the CSP forbids it"
    auth.logout()
    auth.login(mentor.email)
    mentor_page = client.get(f"/mentoring/mentees/{mentee.id}").get_data(as_text=True)
    assert 'id="figure-progress"' in mentor_page and "Attempt 2" in mentor_page
