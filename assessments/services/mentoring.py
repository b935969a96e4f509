"""Mentors: pairings made by admins, what a mentor may see, and mentoring reviews of attempts.

A mentoring review is a `Scorecard` with purpose MENTORING that rates a practice attempt (not an
invitation) against the rubric's dimensions and anchors; hiring calibration filters on purpose
HIRING, and a mentoring review has no invitation to join on, so it never counts there.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from assessments.content.rubric import Rubric
from assessments.errors import AccessDenied, InvalidInput, NotFound
from assessments.extensions import db
from assessments.models import (
    Case,
    MentorPairing,
    Practice,
    PracticeAttempt,
    Rating,
    Scorecard,
    ScorecardPurpose,
    ScorecardStatus,
    User,
)
from assessments.models.types import utcnow
from assessments.permissions import Capability, can
from assessments.scorecard import ScorecardResult
from assessments.services import catalog, scorecards
from assessments.services.audit import record_event
from assessments.services.practice import case_skills


def pair(mentor: User, mentee: User, actor: User) -> MentorPairing:
    """Pair a mentor with a mentee (an existing pairing is returned as it is).

    :raises InvalidInput: when the accounts are not an active mentor and an active mentee.
    """
    if not can(mentor, Capability.MENTOR) or not mentor.active:
        raise InvalidInput(f"{mentor.display_name} is not an active mentor.")
    if not can(mentee, Capability.PRACTISE) or not mentee.active:
        raise InvalidInput(f"{mentee.display_name} is not an active mentee.")
    existing = db.session.scalar(
        select(MentorPairing).where(MentorPairing.mentor_id == mentor.id, MentorPairing.mentee_id == mentee.id)
    )
    if existing is not None:
        return existing
    pairing = MentorPairing(mentor_id=mentor.id, mentee_id=mentee.id, created_by_id=actor.id)
    db.session.add(pairing)
    db.session.flush()
    record_event(actor, "mentoring.paired", "mentor_pairing", pairing.id, mentor=mentor.email, mentee=mentee.email)
    db.session.commit()
    return pairing


def end_pairing(pairing_id: int, actor: User) -> None:
    """End a pairing: the mentor stops seeing the mentee's practice (their reviews are kept).

    :raises NotFound: when there is no such pairing.
    """
    pairing = db.session.get(MentorPairing, pairing_id)
    if pairing is None:
        raise NotFound("No such pairing.")
    record_event(
        actor,
        "mentoring.unpaired",
        "mentor_pairing",
        pairing.id,
        mentor=pairing.mentor.email,
        mentee=pairing.mentee.email,
    )
    db.session.delete(pairing)
    db.session.commit()


def list_pairings() -> list[MentorPairing]:
    """Every pairing, by mentor then mentee."""
    query = (
        select(MentorPairing)
        .options(selectinload(MentorPairing.mentor), selectinload(MentorPairing.mentee))
        .order_by(MentorPairing.mentor_id, MentorPairing.mentee_id)
    )
    return list(db.session.scalars(query))


def find_account(user_id: int) -> User:
    """The account with this id (`pair` checks what it may do).

    :raises InvalidInput: when there is none.
    """
    user = db.session.get(User, user_id)
    if user is None:
        raise InvalidInput("Choose an account from the list.")
    return user


def mentees_of(mentor: User) -> list[User]:
    """The mentor's mentees, by name."""
    query = (
        select(User)
        .join(MentorPairing, MentorPairing.mentee_id == User.id)
        .where(MentorPairing.mentor_id == mentor.id)
        .order_by(User.display_name)
    )
    return list(db.session.scalars(query))


def is_mentor_of(mentor: User, mentee_id: int) -> bool:
    """True when the mentor is paired with the mentee."""
    return (
        db.session.scalar(
            select(MentorPairing.id).where(MentorPairing.mentor_id == mentor.id, MentorPairing.mentee_id == mentee_id)
        )
        is not None
    )


def mentee_for(mentor: User, mentee_id: int) -> User:
    """A mentee this mentor follows.

    :raises AccessDenied: when the mentor is not paired with this person (or it is no mentee).
    """
    mentee = db.session.get(User, mentee_id)
    if mentee is None or not can(mentee, Capability.PRACTISE) or not is_mentor_of(mentor, mentee_id):
        raise AccessDenied("You can only follow the mentees an admin has paired you with.")
    return mentee


def attempt_for(mentor: User, attempt_id: int) -> PracticeAttempt:
    """An attempt by one of this mentor's mentees.

    :raises NotFound: when there is no such attempt.
    :raises AccessDenied: when it belongs to someone the mentor is not paired with.
    """
    attempt = db.session.get(PracticeAttempt, attempt_id)
    if attempt is None:
        raise NotFound("No such practice attempt.")
    mentee_for(mentor, attempt.practice.mentee_id)
    return attempt


def attempts_of(mentee: User) -> list[PracticeAttempt]:
    """The mentee's attempts on every case, newest first."""
    query = (
        select(PracticeAttempt)
        .join(Practice)
        .join(Case)
        .where(Practice.mentee_id == mentee.id)
        .options(selectinload(PracticeAttempt.practice).selectinload(Practice.case))
        .order_by(PracticeAttempt.submitted_at.desc(), PracticeAttempt.id.desc())
    )
    return list(db.session.scalars(query))


def review_rubric(attempt: PracticeAttempt, review: Scorecard | None = None) -> Rubric:
    """The rubric a review is filled against: its own once saved, else the one the case's kit names."""
    if review is not None:
        return scorecards.rubric_for(review)
    return scorecards.kit_rubric(scorecards.kit_for_case(attempt.practice.case.slug))


def review_dimensions(attempt: PracticeAttempt, rubric: Rubric) -> tuple[str, ...]:
    """The rubric dimensions the attempt's case exercises, in rubric order (all when none match)."""
    spec = catalog.spec_for(attempt.practice.case)
    skills = set(case_skills(spec))
    focus = tuple(d for d in rubric.dimension_ids if d in skills)
    return focus or rubric.dimension_ids


def own_review(attempt: PracticeAttempt, mentor: User) -> Scorecard | None:
    """This mentor's review of the attempt, draft or submitted."""
    return db.session.scalar(
        select(Scorecard).where(
            Scorecard.practice_attempt_id == attempt.id,
            Scorecard.interviewer_id == mentor.id,
            Scorecard.purpose == ScorecardPurpose.MENTORING,
        )
    )


def submitted_reviews(attempt: PracticeAttempt) -> list[Scorecard]:
    """Every submitted mentoring review of the attempt, oldest first (the mentee sees these)."""
    query = (
        select(Scorecard)
        .where(
            Scorecard.practice_attempt_id == attempt.id,
            Scorecard.purpose == ScorecardPurpose.MENTORING,
            Scorecard.status == ScorecardStatus.SUBMITTED,
        )
        .order_by(Scorecard.submitted_at)
    )
    return list(db.session.scalars(query))


def save_review(attempt: PracticeAttempt, mentor: User, result: ScorecardResult) -> Scorecard:
    """Save a draft or submit a mentoring review of an attempt (submitting locks it).

    :raises AccessDenied: when the mentor is not paired with the attempt's mentee.
    :raises ScorecardLocked: when this mentor already submitted a review of the attempt.
    """
    mentee_for(mentor, attempt.practice.mentee_id)
    review = own_review(attempt, mentor)
    if review is not None and review.status == ScorecardStatus.SUBMITTED:
        raise scorecards.ScorecardLocked("You have already submitted your review of this attempt.")
    if review is None:
        review = Scorecard(practice_attempt_id=attempt.id, interviewer_id=mentor.id, purpose=ScorecardPurpose.MENTORING)
        db.session.add(review)
    review.rubric_slug = result.rubric_slug
    review.rubric_version = result.rubric_hash
    # A mentoring review advises; it never carries a hiring recommendation.
    review.recommendation = None
    review.takeaways = result.takeaways
    review.red_flags = list(result.red_flags)
    review.ratings.clear()
    db.session.flush()
    for dimension_id, level in result.ratings.items():
        review.ratings.append(
            Rating(dimension_id=dimension_id, level=level, evidence=result.evidence.get(dimension_id, ""))
        )
    if result.is_final:
        review.status = ScorecardStatus.SUBMITTED
        review.submitted_at = utcnow()
    db.session.flush()
    action = "mentoring.review_submitted" if result.is_final else "mentoring.review_draft_saved"
    record_event(mentor, action, "scorecard", review.id, practice_attempt_id=attempt.id)
    db.session.commit()
    return review


def mentoring_reviews_of(mentee: User) -> list[Scorecard]:
    """Every submitted mentoring review of the mentee's attempts, oldest first."""
    query = (
        select(Scorecard)
        .join(PracticeAttempt, Scorecard.practice_attempt_id == PracticeAttempt.id)
        .join(Practice)
        .where(
            Practice.mentee_id == mentee.id,
            Scorecard.purpose == ScorecardPurpose.MENTORING,
            Scorecard.status == ScorecardStatus.SUBMITTED,
        )
        .options(selectinload(Scorecard.ratings), selectinload(Scorecard.interviewer))
        .order_by(Scorecard.submitted_at)
    )
    return list(db.session.scalars(query))
