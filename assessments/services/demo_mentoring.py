"""Demo mentorship: Manu (mentee) has three weeks of practice, and Mira (mentor) follows and reviews.

Browser attempts on the review case are scored on the spot. Notebook attempts are real notebooks
(the author's solution with some answers taken out) graded synchronously here through the sandbox;
without a sandbox they are recorded as "not graded" with the grader's message, and the rest of the
story still holds. Each step is its own use case and looks for what it would add first, so a run
that was interrupted is completed by the next one and a complete demo is left as it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import nbformat

from assessments.content.notebook import answer_stub, solution_notebook
from assessments.extensions import db
from assessments.models import Practice, PracticeAttempt, User
from assessments.models.types import utcnow
from assessments.scorecard import ScorecardResult
from assessments.services import accounts, catalog, mentoring, practice
from assessments.services import review_exercise as review

MENTOR_EMAIL = "mira@example.com"
MENTEE_EMAIL = "manu@example.com"
ADMIN_EMAIL = "admin@example.com"
REVIEW_CASE = "review-leakage"
DEMO_SEED = 4242
# Notebook cases practised, with how many of their answers the demo notebook leaves out.
NOTEBOOK_CASES = (("ab-readout", 4, 20), ("error-analysis", 3, 12))


def seed_mentoring() -> None:
    """Pair Mira with Manu and give Manu a practice history with one mentor review (idempotent)."""
    mentor, mentee, admin = (accounts.find_user_by_email(e) for e in (MENTOR_EMAIL, MENTEE_EMAIL, ADMIN_EMAIL))
    if mentor is None or mentee is None or admin is None:
        return
    mentoring.pair(mentor, mentee, admin)
    specs = catalog.case_specs()
    now = utcnow()
    first_review = None
    if REVIEW_CASE in specs and review.is_review_case(specs[REVIEW_CASE]):
        first_review = _review_history(mentee, now)
    for slug, left_out, days_ago in NOTEBOOK_CASES:
        if slug in specs:
            _notebook_attempt(mentee, slug, left_out, now - timedelta(days=days_ago))
    if first_review is not None and mentoring.own_review(first_review, mentor) is None:
        _mentor_review(mentor, first_review, first_review.submitted_at + timedelta(days=1))


def _attempts(practice_of_case: Practice) -> list[PracticeAttempt]:
    return sorted(practice_of_case.attempts, key=lambda a: a.number)


def _review_history(mentee: User, now: datetime) -> PracticeAttempt:
    """Two browser reviews a week apart: a shaky first try, then a better one after its feedback."""
    own = practice.start_practice(mentee, REVIEW_CASE, seed=DEMO_SEED)
    done = _attempts(own)
    if len(done) >= 2:
        return done[0]
    spec = catalog.spec_for(own.case)
    seed = practice.data_seed(own)
    # The demo plays a mentee who found some defects: it reads the plan as the author would.
    planted = [
        review.ReviewFlag(f.label, f.defect, "Spotted while reading the cell.")
        for f in review.planted_flags(spec, seed)
    ]
    clean = next(
        c
        for c in review.flawed_cells(spec, seed)
        if c.cell_type == "code" and c.label not in {p.label for p in planted}
    )
    wrong = review.ReviewFlag(clean.label, "eval-on-train", "The evaluation looked suspicious.")
    first = (
        done[0] if done else practice.submit_review_attempt(own, [*planted[:2], wrong], now=now - timedelta(days=21))
    )
    practice.submit_review_attempt(own, planted[:-1], now=now - timedelta(days=14))
    return first


def _notebook_attempt(mentee: User, slug: str, left_out: int, when: datetime) -> None:
    own = practice.start_practice(mentee, slug, seed=DEMO_SEED)
    if own.attempts:
        return
    spec = catalog.spec_for(own.case)
    notebook = solution_notebook(spec)
    answers = [c for c in notebook.cells if isinstance(c.get("metadata", {}).get("assess", {}).get("answer"), str)]
    for cell in answers[-left_out:]:
        cell.source = answer_stub(cell.metadata["assess"]["answer"])
    raw = nbformat.writes(notebook).encode("utf-8")
    practice.submit_notebook_attempt(own, f"{slug}.ipynb", raw, now=when)


def _mentor_review(mentor: User, attempt: PracticeAttempt, when: datetime) -> None:
    rubric = mentoring.review_rubric(attempt)
    focus = mentoring.review_dimensions(attempt, rubric)
    levels = {"modeling": 2, "evaluation-rigor": 3, "communication": 2}
    ratings = {d: levels.get(d, 2) for d in focus}
    result = ScorecardResult(
        rubric_slug=rubric.slug,
        rubric_hash=rubric.content_hash,
        ratings=ratings,
        evidence={d: f"Observed: {rubric.dimension(d).anchors[v][0]}" for d, v in ratings.items()},
        red_flags=(),
        takeaways="Good eye for the experiment's problems; before flagging a model step, check which "
        "rows it was fitted and evaluated on. Next: the error-analysis case.",
        recommendation=None,
        is_final=True,
    )
    card = mentoring.save_review(attempt, mentor, result)
    # Dated the day after the attempt, so the mentor's page reads as the story happened.
    card.created_at = card.submitted_at = when
    db.session.commit()
