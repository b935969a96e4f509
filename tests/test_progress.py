"""A mentee's progress: one score per attempt and dimension, trends with their n, the suggestion, main skills."""

from __future__ import annotations

from datetime import timedelta

import pytest

from assessments.content.case import load_case
from assessments.extensions import db
from assessments.grading.checks import CHECK_RULES
from assessments.grading.report import CheckResult, GradeReport, Timings
from assessments.models import AttemptRoute, AttemptStatus, PracticeAttempt, User
from assessments.models.types import utcnow
from assessments.services import catalog, practice, progress
from tests.test_practice import REVIEW, ROOT, _flags, _planted, use_practice_cases

# The fixture case: four checked parts on evaluation rigor (5 points), a written one on communication.
TINY = "tiny-hiring"


@pytest.fixture
def cases(app, tmp_path):
    """The practice fixture cases, synced."""
    use_practice_cases(app, tmp_path / "cases")


def _graded(mentee: User, earned: dict[str, float], *, days: int, after_solution: bool = False) -> PracticeAttempt:
    """A graded notebook attempt on the fixture case with these points per part (stored as the grader would)."""
    own = practice.start_practice(mentee, TINY)
    spec = catalog.case_specs()[TINY]
    checks = tuple(
        CheckResult(p.id, earned.get(p.id, 0.0), p.points, "correct" if earned.get(p.id) else "incorrect", "")
        for p in spec.checkable_parts
    )
    report = GradeReport(
        "test",
        TINY,
        own.case.content_hash,
        1,
        sum(c.earned for c in checks),
        sum(c.possible for c in checks),
        checks,
        (),
        Timings(),
    )
    attempt = PracticeAttempt(
        practice=own,
        number=len(own.attempts) + 1,
        route=AttemptRoute.NOTEBOOK,
        submitted_at=utcnow() - timedelta(days=30 - days),
        after_solution=after_solution,
        status=AttemptStatus.DONE,
        results=report.to_dict(),
        earned=report.earned,
        possible=report.possible,
    )
    db.session.add(attempt)
    db.session.commit()
    return attempt


def _mentee(make_user) -> User:
    return db.session.get(User, make_user("mentee").id)


def test_an_attempt_gives_one_score_per_dimension_not_one_per_check(app, make_user, cases):
    with app.app_context():
        mentee = _mentee(make_user)
        # Four checked parts on evaluation rigor (2 + 1 + 1 + 1 points): 3 of 5 points earned.
        _graded(mentee, {"treatment_rate": 2, "better_arm": 1}, days=1)
        _graded(mentee, {"treatment_rate": 2, "better_arm": 1, "best_channel": 1, "arm_rates": 1}, days=2)
        shown = progress.mentee_progress(mentee)
    rows = {row.dimension_id: row for row in shown.dimensions}
    rigor = rows["evaluation-rigor"]
    assert [e.value for e in rigor.auto] == pytest.approx([0.6, 1.0]), "two attempts, two scores"
    assert [(e.earned, e.possible) for e in rigor.auto] == [(3, 5), (5, 5)]
    assert rigor.trend == progress.Trend(pytest.approx(0.4), 2, 1)
    assert rigor.recent == pytest.approx(1.0), "a better retry of a case replaces its first try as current evidence"
    assert rows["communication"].auto == [], "the written part is not auto-graded: no score"
    [case_row] = shown.cases
    assert [a.share for a in case_row.attempts] == pytest.approx([0.6, 1.0])
    assert case_row.trend is not None and case_row.trend.attempts == 2


def test_one_attempt_has_no_trend_and_after_solution_attempts_are_shown_but_not_counted(app, make_user, cases):
    with app.app_context():
        mentee = _mentee(make_user)
        _graded(mentee, {"treatment_rate": 2}, days=1)
        _graded(
            mentee,
            {"treatment_rate": 2, "better_arm": 1, "best_channel": 1, "arm_rates": 1},
            days=2,
            after_solution=True,
        )
        shown = progress.mentee_progress(mentee)
    rigor = {row.dimension_id: row for row in shown.dimensions}["evaluation-rigor"]
    assert [e.after_solution for e in rigor.auto] == [False, True]
    assert rigor.trend is None, "one counted attempt is no trend (the copy after the solution is not one)"
    assert rigor.recent == pytest.approx(0.4) and rigor.recent_n == 1


def test_trends_compare_attempts_on_the_same_case_and_state_their_n():
    scores = [("a", 0.2), ("b", 0.9), ("a", 0.6), ("b", 0.7), ("a", 0.8)]
    trend = progress.trend_of(scores)
    # Case a: 0.2 -> 0.8 (+0.6), case b: 0.9 -> 0.7 (-0.2): the mean change, from 5 attempts on 2 cases.
    assert trend == progress.Trend(pytest.approx(0.2), 5, 2)
    assert progress.trend_of([("a", 0.0), ("b", 1.0)]) is None, "scores on different cases are no trend"


def test_the_suggestion_targets_the_weakest_measured_dimension_with_its_evidence(app, make_user, cases):
    app.config.update(PRACTICE_MIN_SECONDS_BETWEEN_ATTEMPTS=0)
    with app.app_context():
        mentee = _mentee(make_user)
        _graded(mentee, {"treatment_rate": 2, "better_arm": 1, "best_channel": 1, "arm_rates": 1}, days=1)
        own = practice.start_practice(mentee, REVIEW, seed=9)
        planted = _planted(app, practice.data_seed(own))
        practice.submit_review_attempt(own, _flags(planted[:1]))
        shown = progress.mentee_progress(mentee)
    rows = {row.dimension_id: row for row in shown.dimensions}
    assert rows["evaluation-rigor"].recent > rows["modeling"].recent, "rigor's full marks on the A/B case lift it"
    assert rows["modeling"].recent == pytest.approx(1 / len(planted))
    assert shown.suggestion is not None and shown.suggestion.dimension_id == "modeling"
    assert shown.suggestion.case.slug == REVIEW, "the practice case that mainly exercises modeling"
    assert f"average {1 / len(planted):.0%}" in shown.suggestion.reason


def test_with_solid_evidence_the_suggestion_goes_to_untried_ground(app, make_user, cases):
    with app.app_context():
        mentee = _mentee(make_user)
        _graded(mentee, {"treatment_rate": 2, "better_arm": 1, "best_channel": 1, "arm_rates": 1}, days=1)
        shown = progress.mentee_progress(mentee)
    assert shown.suggestion is not None
    assert shown.suggestion.dimension_id in {"modeling", "communication"}
    assert "No evidence" in shown.suggestion.reason and "at least 70%" in shown.suggestion.reason


def test_a_case_lists_only_the_dimensions_carrying_most_of_its_points(app, cases):
    with app.app_context():
        specs = catalog.case_specs()
    # The fixture: 5 of 7 points on evaluation rigor, 2 on communication: both main.
    assert practice.main_dimensions(specs[TINY]) == ("evaluation-rigor", "communication")


def test_the_real_ab_case_lists_its_main_dimensions_not_seven_of_eight():
    spec = load_case(ROOT / "cases" / "ab-readout", check_rules=CHECK_RULES)
    weights = practice.dimension_weights(spec)
    assert len(weights) >= 7, "the A/B case touches almost every dimension somewhere"
    main = practice.main_dimensions(spec)
    assert main[0] == "evaluation-rigor" and len(main) <= practice.MAIN_DIMENSIONS_AT_MOST
    assert all(weights[d] >= practice.MAIN_DIMENSION_SHARE for d in main)
    assert sum(weights[d] for d in main) >= 0.5, "the main dimensions carry most of the points"


def test_the_catalogue_shows_main_skills(app, client, auth, make_user, cases):
    mentee = make_user("mentee")
    auth.login(mentee.email)
    page = client.get("/practice/").get_data(as_text=True)
    assert "Main skills it exercises" in page
    with app.app_context():
        review_main = practice.main_dimensions(catalog.case_specs()[REVIEW])
    assert "communication" not in review_main, "a dimension with a tenth of the points is not a main skill"


def test_the_progress_page_shows_scores_per_attempt_trend_with_n_and_the_chart_data_as_a_table(
    app, client, auth, make_user, cases
):
    with app.app_context():
        mentee = _mentee(make_user)
        email = mentee.email
        _graded(mentee, {"treatment_rate": 2, "better_arm": 1}, days=1)
        _graded(mentee, {"treatment_rate": 2, "better_arm": 1, "best_channel": 1, "arm_rates": 1}, days=2)
    auth.login(email)
    page = client.get("/practice/progress").get_data(as_text=True)
    assert "60% → 100%" in page
    assert "+40 points" in page and "n = 2 attempts" in page
    assert "points as a table" in page and "auto-graded" in page
