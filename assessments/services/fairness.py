"""Voluntary self-identification and the adverse impact report.

Self-identification lives in its own table (`SelfIdentification`), written by the candidate's own
form or an admin's import of an ATS export, and read in exactly one place: `adverse_impact_report`,
for people who may audit fairness, each reading recorded in the audit trail. No other service
imports the table, so no interviewer page, mentor page, scorecard export or hiring packet can show it
(`tests/test_fairness.py` renders them and looks for the values). The report itself is built from
the frame by `services/adverse_impact.py`, which reads no table.

The report's rows are applications (invitations): the auto-grade (newest finished run of the newest
version, as a share of its points), whether it passed the threshold in `fairness.toml`, whether the
debrief's current decision advanced it (hold or none yet: not reached), whether the candidate was
hired (from the outcomes admins record; none recorded: not reached), and the mean rating per
scorecard dimension over the interviewers' current submitted hiring scorecards. A CSV export
(`stats/selection_csv.py`) can stand in for the app's own data.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
from flask import current_app
from sqlalchemy import func, select

from assessments.config import PROJECT_ROOT
from assessments.content.self_id import SelfIdCategories, load_categories
from assessments.errors import AccessDenied, InvalidInput
from assessments.extensions import db
from assessments.models import (
    Candidate,
    GradeRun,
    GradeStatus,
    HiringDecision,
    Invitation,
    Rating,
    Scorecard,
    ScorecardPurpose,
    ScorecardStatus,
    SelfIdentification,
    SelfIdSource,
    Submission,
    User,
)
from assessments.models.types import utcnow
from assessments.permissions import Capability, can
from assessments.services import adverse_impact, outcomes
from assessments.services.adverse_impact import APP_STAGES, AdverseImpactReport
from assessments.services.audit import record_event
from assessments.stats.selection_csv import SelectionCsvError, read_selection_csv

MAX_IMPORT_BYTES = 5 * 1024 * 1024
DATABASE_SOURCE = "this app's applications"


def categories() -> SelfIdCategories:
    """The self-identification categories: `instance/fairness.toml` if present, else `config/fairness.toml`."""
    own = Path(current_app.instance_path) / "fairness.toml"
    return load_categories(own if own.exists() else PROJECT_ROOT / "config" / "fairness.toml")


def own_self_identification(invitation: Invitation) -> SelfIdentification | None:
    """The candidate's own answers, for their own form (the link is the credential)."""
    return db.session.scalar(
        select(SelfIdentification).where(SelfIdentification.candidate_id == invitation.candidate_id)
    )


def _checked(value: str | None, field_name: str, allowed: tuple[str, ...], where: str = "") -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    for option in allowed:
        if value.casefold() == option.casefold():
            return option
    raise InvalidInput(f"{where}{value[:40]!r} is not one of the {field_name.replace('_', '/')} answers.")


def _store(candidate_id: int, sex: str | None, race: str | None, source: SelfIdSource) -> None:
    row = db.session.scalar(select(SelfIdentification).where(SelfIdentification.candidate_id == candidate_id))
    if row is None:
        row = SelfIdentification(candidate_id=candidate_id)
        db.session.add(row)
    row.sex, row.race_ethnicity, row.source, row.recorded_at = sex, race, source, utcnow()


def record_self_identification(invitation: Invitation, sex: str | None, race_ethnicity: str | None) -> None:
    """Store a candidate's voluntary answers (empty: not answered), replacing earlier ones.

    :raises InvalidInput: for an answer that is not in the configured lists.
    """
    options = categories()
    _store(
        invitation.candidate_id,
        _checked(sex, "sex", options.allowed("sex")),
        _checked(race_ethnicity, "race_ethnicity", options.allowed("race_ethnicity")),
        SelfIdSource.CANDIDATE,
    )
    # The event says that answers were given, never what they were.
    record_event(None, "self_identification.recorded", "candidate", invitation.candidate_id)
    db.session.commit()


def import_self_identification(raw: bytes, actor: User) -> int:
    """Import self-identification from an ATS export (`candidate` is the email); returns rows stored.

    :raises AccessDenied: for someone who may not audit fairness.
    :raises InvalidInput: naming each bad line: unreadable file, unknown email, answer not in the lists.
    """
    if not can(actor, Capability.AUDIT_FAIRNESS):
        raise AccessDenied("Only admins who audit fairness import self-identification.")
    if len(raw) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"The file is over {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    options = categories()
    frame = _read_csv(raw, options)
    emails = {e.casefold() for e in frame["candidate"]}
    by_email = {
        c.email.casefold(): c.id
        for c in db.session.scalars(select(Candidate).where(func.lower(Candidate.email).in_(emails)))
    }
    problems, stored = [], []
    for line, row in zip(frame.attrs["lines"], frame.itertuples(), strict=True):
        try:
            candidate_id = by_email.get(row.candidate.casefold())
            if candidate_id is None:
                raise InvalidInput(f"line {line}: no candidate has the email {row.candidate[:80]!r}.")
            sex = _checked(row.sex, "sex", options.allowed("sex"), f"line {line}: ")
            race = _checked(row.race_ethnicity, "race_ethnicity", options.allowed("race_ethnicity"), f"line {line}: ")
        except InvalidInput as error:
            problems.append(error.message)
            continue
        stored.append((candidate_id, sex, race))
    if problems:
        raise InvalidInput(
            "; ".join(problems[:50]) + (f"; and {len(problems) - 50} more" if len(problems) > 50 else "")
        )
    for candidate_id, sex, race in stored:
        _store(candidate_id, sex, race, SelfIdSource.IMPORT)
    record_event(actor, "self_identification.imported", "candidate", None, rows=len(stored))
    db.session.commit()
    return len(stored)


def _read_csv(raw: bytes | str, options: SelfIdCategories) -> pd.DataFrame:
    try:
        text = raw if isinstance(raw, str) else raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput("The file is not UTF-8 text (save it as CSV UTF-8).") from error
    try:
        frame = read_selection_csv(text, decline=options.decline)
    except SelectionCsvError as error:
        raise InvalidInput(str(error)) from error
    return frame


def outcomes_from_csv(raw: bytes | str) -> pd.DataFrame:
    """A selection export read for the report (any category labels; the declining answer is unknown).

    :raises InvalidInput: naming each bad line.
    """
    if len(raw) > 50 * MAX_IMPORT_BYTES:
        raise InvalidInput("The file is over 250 MB.")
    return _read_csv(raw, categories())


def applicant_frame() -> pd.DataFrame:
    """One row per invitation: self-identification, auto-grade, the stages reached and dimension means."""
    options = categories()
    invitations = db.session.scalars(select(Invitation).order_by(Invitation.id)).all()
    answers = {
        row.candidate_id: (row.sex, row.race_ethnicity) for row in db.session.scalars(select(SelfIdentification))
    }
    decisions: dict[int, str] = {}
    for decision in db.session.scalars(select(HiringDecision).order_by(HiringDecision.decided_at, HiringDecision.id)):
        decisions[decision.invitation_id] = decision.outcome
    grades = _auto_grades()
    means = _dimension_means()
    # Hired or not, where an admin recorded the candidate's outcome (services/outcomes); else not reached.
    hired = {outcome.candidate_id: float(outcome.hired) for outcome in outcomes.recorded_outcomes()}
    rows = []
    for invitation in invitations:
        sex, race = answers.get(invitation.candidate_id, (None, None))
        grade = grades.get(invitation.id, math.nan)
        outcome = decisions.get(invitation.id)
        row: dict[str, Any] = {
            "candidate": f"#{invitation.id}",
            "sex": None if sex in (None, options.decline) else sex,
            "race_ethnicity": None if race in (None, options.decline) else race,
            "auto_grade": grade,
            "passed_auto_grade": math.nan if math.isnan(grade) else float(grade >= options.auto_grade_threshold),
            "advanced": {"advance": 1.0, "reject": 0.0}.get(outcome or "", math.nan),
            "hired": hired.get(invitation.candidate_id, math.nan),
        }
        for dimension, mean in means.get(invitation.id, {}).items():
            row[f"{dimension}_score"] = mean
        rows.append(row)
    base = ["candidate", "sex", "race_ethnicity", "auto_grade", *APP_STAGES]
    dimensions = sorted({k for r in rows for k in r if k.endswith("_score")})
    return pd.DataFrame(rows).reindex(columns=base + dimensions)


def _auto_grades() -> dict[int, float]:
    query = (
        select(Submission.invitation_id, Submission.version, Submission.id, GradeRun.earned, GradeRun.possible)
        .join(GradeRun, GradeRun.submission_id == Submission.id)
        .where(GradeRun.status == GradeStatus.DONE, GradeRun.possible > 0)
        .order_by(Submission.invitation_id, Submission.version, GradeRun.id)
    )
    newest: dict[int, tuple[int, float]] = {}
    for invitation_id, version, _, earned, possible in db.session.execute(query):
        if invitation_id not in newest or version >= newest[invitation_id][0]:
            newest[invitation_id] = (version, (earned or 0.0) / possible)
    return {k: v for k, (_, v) in newest.items()}


def _dimension_means() -> dict[int, dict[str, float]]:
    cards = select(Scorecard.id, Scorecard.invitation_id, Scorecard.interviewer_id).where(
        Scorecard.purpose == ScorecardPurpose.HIRING,
        Scorecard.status == ScorecardStatus.SUBMITTED,
        Scorecard.invitation_id.is_not(None),
    )
    current: dict[tuple[int, int], int] = {}
    for card_id, invitation_id, interviewer_id in db.session.execute(cards.order_by(Scorecard.id)):
        current[(invitation_id, interviewer_id)] = card_id  # an amendment (a later row) replaces
    invitation_of = {card_id: invitation_id for (invitation_id, _), card_id in current.items()}
    levels: dict[int, dict[str, list[int]]] = {}
    query = select(Rating.scorecard_id, Rating.dimension_id, Rating.level).where(
        Rating.scorecard_id.in_(list(invitation_of)), Rating.level.is_not(None)
    )
    for card_id, dimension, level in db.session.execute(query):
        levels.setdefault(invitation_of[card_id], {}).setdefault(dimension, []).append(level)
    return {inv: {d: sum(v) / len(v) for d, v in dims.items()} for inv, dims in levels.items()}


def adverse_impact_report(
    actor: User | None, *, exclude_small: bool = False, csv_text: bytes | str | None = None, how: str = "page"
) -> AdverseImpactReport:
    """The report for someone who audits fairness (None: the command line), recorded in the audit trail.

    :raises AccessDenied: for anyone else.
    :raises InvalidInput: for a CSV export with bad lines.
    """
    if actor is not None and not can(actor, Capability.AUDIT_FAIRNESS):
        raise AccessDenied("Only admins who audit fairness read this report.")
    if csv_text is not None:
        report = adverse_impact.build_report(
            outcomes_from_csv(csv_text), source="a CSV export", exclude_small=exclude_small
        )
    else:
        report = adverse_impact.build_report(
            applicant_frame(),
            source=DATABASE_SOURCE,
            threshold=categories().auto_grade_threshold,
            exclude_small=exclude_small,
        )
    record_event(actor, "fairness.report_viewed", "report", None, how=how, source=report.source, people=report.people)
    db.session.commit()
    return report
