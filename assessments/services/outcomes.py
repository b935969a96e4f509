"""Recording outcomes (hired, start date, performance ratings at 6 and 12 months), by page or CSV import.

Outcomes are HR data: only admins record and read them (`Capability.RECORD_OUTCOMES`), each
change is audit-logged with who made it, and nothing outside the validity report reads them.
The same rules hold for both routes: ratings lie on `OUTCOME_RATING_SCALE`, and only a hire has a
start date or ratings. An import is all or nothing: any bad row refuses the file, naming each
bad row by its line.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import func, select

from assessments.errors import AccessDenied, InvalidInput, NotFound
from assessments.extensions import db
from assessments.models import Candidate, Outcome, User
from assessments.permissions import Capability, can
from assessments.services import audit

CSV_COLUMNS = ("candidate", "hired", "start_date", "rating_6m", "rating_12m")
REQUIRED_COLUMNS = ("candidate", "hired")
MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
# An import that fails names at most this many bad rows, then says how many more there are.
MAX_ERRORS_SHOWN = 20
_TRUE = {"1", "yes", "true", "y"}
_FALSE = {"0", "no", "false", "n"}


@dataclass(frozen=True)
class OutcomeValues:
    """What an admin records about one candidate."""

    hired: bool
    start_date: date | None = None
    rating_6m: float | None = None
    rating_12m: float | None = None


@dataclass(frozen=True)
class ImportResult:
    """How many candidates an import created outcomes for, and how many it updated."""

    created: int
    updated: int


def rating_scale() -> tuple[float, float]:
    """The performance rating scale (lowest, highest) from `OUTCOME_RATING_SCALE` ("MIN..MAX").

    :raises InvalidInput: when the setting is not MIN..MAX with MIN < MAX.
    """
    text = str(current_app.config.get("OUTCOME_RATING_SCALE", "1..5"))
    low, sep, high = text.partition("..")
    try:
        bounds = (float(low), float(high))
    except ValueError:
        bounds = (math.nan, math.nan)
    if not sep or not bounds[0] < bounds[1]:
        raise InvalidInput(f"OUTCOME_RATING_SCALE must look like 1..5, not {text!r}.")
    return bounds


def _require_recorder(actor: User) -> None:
    if not can(actor, Capability.RECORD_OUTCOMES):
        raise AccessDenied("Only admins record outcomes: they are HR data.")


def check_outcome(values: OutcomeValues) -> None:
    """Refuse values that break the outcome rules.

    :raises InvalidInput: a rating off the scale, or a start date or rating for someone not hired.
    """
    low, high = rating_scale()
    for label, rating in (("6-month", values.rating_6m), ("12-month", values.rating_12m)):
        if rating is None:
            continue
        if not math.isfinite(rating) or not low <= rating <= high:
            raise InvalidInput(f"The {label} rating must be between {low:g} and {high:g}, not {rating:g}.")
        if not values.hired:
            raise InvalidInput(f"Only a hire has a {label} rating: mark the candidate hired or leave it empty.")
    if values.start_date is not None and not values.hired:
        raise InvalidInput("Only a hire has a start date: mark the candidate hired or leave it empty.")


def _apply(candidate: Candidate, values: OutcomeValues, actor: User) -> bool:
    outcome = db.session.scalar(select(Outcome).where(Outcome.candidate_id == candidate.id))
    created = outcome is None
    if outcome is None:
        outcome = Outcome(candidate_id=candidate.id)
        db.session.add(outcome)
    outcome.hired = values.hired
    outcome.start_date = values.start_date
    outcome.rating_6m = values.rating_6m
    outcome.rating_12m = values.rating_12m
    outcome.recorded_by_id = actor.id
    db.session.flush()
    # The values themselves stay out of the audit log: it is read more widely than HR data should be.
    audit.record_event(actor, "outcome.recorded", "candidate", candidate.id, created=created)
    return created


def record_outcome(candidate_id: int, values: OutcomeValues, actor: User) -> Outcome:
    """Create or replace one candidate's outcomes.

    :raises AccessDenied: for an account that may not record outcomes.
    :raises NotFound: for an unknown candidate.
    :raises InvalidInput: for values that break the outcome rules.
    """
    _require_recorder(actor)
    candidate = db.session.get(Candidate, candidate_id)
    if candidate is None:
        raise NotFound("There is no such candidate.")
    check_outcome(values)
    _apply(candidate, values, actor)
    db.session.commit()
    return db.session.scalars(select(Outcome).where(Outcome.candidate_id == candidate_id)).one()


def outcome_for(candidate_id: int) -> Outcome | None:
    """The candidate's recorded outcomes, if any."""
    return db.session.scalar(select(Outcome).where(Outcome.candidate_id == candidate_id))


def recorded_outcomes() -> list[Outcome]:
    """Every recorded outcome with its candidate, by candidate name."""
    query = select(Outcome).join(Candidate).order_by(Candidate.name, Candidate.id)
    return list(db.session.scalars(query))


def assessed_candidates() -> list[Candidate]:
    """Candidates who were invited to a case: the people an outcome can be recorded for."""
    query = select(Candidate).where(Candidate.invitations.any()).order_by(Candidate.name, Candidate.id)
    return list(db.session.scalars(query))


def _number(text: str, column: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"{column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{column} {text!r} is not a number")
    return value


def _row_values(row: dict[str, str]) -> OutcomeValues:
    hired_text = row.get("hired", "").strip().lower()
    if hired_text in _TRUE:
        hired = True
    elif hired_text in _FALSE:
        hired = False
    else:
        raise InvalidInput(f"hired must be 1 or 0 (yes or no), not {row.get('hired', '')!r}")
    start_text = (row.get("start_date") or "").strip()
    try:
        start = date.fromisoformat(start_text) if start_text else None
    except ValueError:
        raise InvalidInput(f"start_date {start_text!r} is not a date like 2026-03-01") from None
    values = OutcomeValues(
        hired,
        start,
        _number((row.get("rating_6m") or "").strip(), "rating_6m"),
        _number((row.get("rating_12m") or "").strip(), "rating_12m"),
    )
    check_outcome(values)
    return values


def _read_rows(data: bytes) -> csv.DictReader[str]:
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The file is not UTF-8 text: save it as CSV (UTF-8).") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing the column(s) {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown column(s) {', '.join(unknown)}")
        raise InvalidInput(f"Line 1: the header is {' and '.join(problems)} (columns: {', '.join(CSV_COLUMNS)}).")
    if len(set(header)) != len(header):
        raise InvalidInput("Line 1: a column appears twice in the header.")
    reader.fieldnames = header
    return reader


def import_outcomes_csv(data: bytes, actor: User) -> ImportResult:
    """Record outcomes from a CSV (candidate email, hired, start_date, rating_6m, rating_12m).

    :raises AccessDenied: for an account that may not record outcomes.
    :raises InvalidInput: naming every bad row by line (up to `MAX_ERRORS_SHOWN`); nothing is recorded then.
    """
    _require_recorder(actor)
    reader = _read_rows(data)
    emails = {
        email.lower(): candidate_id
        for candidate_id, email in db.session.execute(select(Candidate.id, func.lower(Candidate.email)))
    }
    errors: list[str] = []
    parsed: dict[int, OutcomeValues] = {}
    seen: dict[str, int] = {}
    rows = 0
    for row in reader:
        line = reader.line_num
        rows += 1
        if rows > MAX_IMPORT_ROWS:
            raise InvalidInput(f"The file has more than {MAX_IMPORT_ROWS} rows: split it.")
        if None in row:
            errors.append(f"Line {line}: more cells than the header has columns.")
            continue
        email = (row.get("candidate") or "").strip().lower()
        if not email:
            errors.append(f"Line {line}: the candidate column is empty.")
            continue
        if email not in emails:
            errors.append(f"Line {line}: no candidate has the email {email!r}.")
            continue
        if email in seen:
            errors.append(f"Line {line}: {email} already appears on line {seen[email]}.")
            continue
        seen[email] = line
        try:
            parsed[emails[email]] = _row_values(row)
        except InvalidInput as error:
            errors.append(f"Line {line}: {error.message.rstrip('.')}.")
    if errors:
        more = len(errors) - MAX_ERRORS_SHOWN
        shown = errors[:MAX_ERRORS_SHOWN] + ([f"… and {more} more bad row(s)."] if more > 0 else [])
        raise InvalidInput("Nothing was imported. " + " ".join(shown))
    if not parsed:
        raise InvalidInput("The file has no rows below its header.")
    created = 0
    candidates = db.session.scalars(select(Candidate).where(Candidate.id.in_(parsed))).all()
    for candidate in candidates:
        created += _apply(candidate, parsed[candidate.id], actor)
    audit.record_event(actor, "outcome.imported", "outcome", None, rows=len(parsed))
    db.session.commit()
    return ImportResult(created=created, updated=len(parsed) - created)
