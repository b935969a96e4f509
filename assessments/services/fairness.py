"""Voluntary self-identification and the adverse impact report.

Self-identification lives in its own table (`SelfIdentification`), written by the candidate's own
form or an admin's import of an ATS export, and read in exactly one place: `adverse_impact_report`,
for people who may audit fairness, each reading recorded in the audit trail. No other service
imports the table, so no interviewer page, mentor page, scorecard export or hiring packet can show it
(`tests/test_fairness.py` renders them and looks for the values).

The report's rows are applications (invitations): the auto-grade (newest finished run of the newest
version, as a share of its points), whether it passed the threshold in `fairness.toml`, whether the
debrief's current decision advanced it (hold or none yet: not reached), and the mean rating per
scorecard dimension over the interviewers' current submitted hiring scorecards. A CSV export
(`stats/selection_csv.py`) can stand in for the app's own data.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from flask import current_app, render_template
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
from assessments.services import scorecards
from assessments.services.audit import record_event
from assessments.stats.adverse_impact import (
    RateTable,
    intersections,
    mean_differences,
    rate_table,
    scoring_rate_table,
)
from assessments.stats.selection_csv import SelectionCsvError, is_score_column, read_selection_csv

MAX_IMPORT_BYTES = 5 * 1024 * 1024
BREAKDOWNS = (("sex", "Sex/gender"), ("race_ethnicity", "Race/ethnicity"), ("intersection", "Intersection"))
APP_STAGES = {
    "passed_auto_grade": "Passed the auto-grade threshold",
    "advanced": "Advanced after the debrief",
}
DATABASE_SOURCE = "this app's applications"
SMD_NOTE = (
    "Hedges' g of each group against the largest group, 95% interval g ± 1.96·√V_g "
    "(Borenstein, Hedges, Higgins & Rothstein 2009, Introduction to Meta-Analysis, eqs. 4.18-4.24)."
)


@dataclass(frozen=True)
class Breakdown:
    """One way of grouping people (sex, race/ethnicity or their intersection) and its rate table."""

    by: str
    label: str
    table: RateTable


@dataclass(frozen=True)
class StageResult:
    """A stage's selection rates (or a score's scoring rates) in each breakdown."""

    name: str
    label: str
    kind: str  # "selection" or "scoring"
    people: int
    breakdowns: tuple[Breakdown, ...]
    cut: float | None = None


@dataclass(frozen=True)
class Difference:
    """Standardised mean differences of one measure between groups of one breakdown."""

    measure: str
    label: str
    by: str
    rows: pd.DataFrame


@dataclass(frozen=True)
class Flag:
    """A group whose impact ratio is under four-fifths, with the tests beside it."""

    stage: str
    breakdown: str
    group: str
    n: int
    rate: float
    impact_ratio: float
    fisher_p: float
    z_p: float


@dataclass(frozen=True)
class AdverseImpactReport:
    """The adverse impact report: stages, scores, differences and the flags under four-fifths."""

    source: str
    people: int
    exclude_small: bool
    stages: tuple[StageResult, ...]
    differences: tuple[Difference, ...]
    threshold: float | None
    generated_at: str = field(default_factory=lambda: utcnow().isoformat(timespec="seconds"))

    @property
    def flags(self) -> list[Flag]:
        """Every compared group under four-fifths of its reference, stage by stage."""
        found = []
        for stage in self.stages:
            for part in stage.breakdowns:
                for row in part.table.rows.itertuples():
                    if row.below_four_fifths and not row.excluded:
                        found.append(
                            Flag(
                                stage.label,
                                part.label,
                                row.group,
                                int(row.n),
                                float(row.rate),
                                float(row.impact_ratio),
                                float(row.fisher_p),
                                float(row.z_p),
                            )
                        )
        return found


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


def _dimension_label(column: str) -> str:
    if column == "auto_grade":
        return "Auto-grade (share of points)"
    name = column.removesuffix("_score")
    try:
        return f"Scorecard: {scorecards.rubric_for().dimension(name).name}"
    except KeyError:
        return name.replace("_", " ").capitalize()


def build_report(
    frame: pd.DataFrame, *, exclude_small: bool = False, source: str = DATABASE_SOURCE
) -> AdverseImpactReport:
    """The adverse impact report of a frame shaped like `applicant_frame` or a selection export."""
    groups = {
        "sex": frame["sex"],
        "race_ethnicity": frame["race_ethnicity"],
        "intersection": intersections(frame["sex"], frame["race_ethnicity"]),
    }
    stage_columns = [
        c for c in frame.columns if c not in ("candidate", "sex", "race_ethnicity") and not is_score_column(c)
    ]
    score_columns = [c for c in frame.columns if is_score_column(c)]
    stages = []
    for column in stage_columns:
        reached = frame[column].notna()
        parts = tuple(
            Breakdown(by, label, rate_table(groups[by][reached], frame[column][reached], exclude_small=exclude_small))
            for by, label in BREAKDOWNS
        )
        label = APP_STAGES.get(column, column.replace("_", " ").capitalize())
        stages.append(StageResult(column, label, "selection", int(reached.sum()), parts))
    if "auto_grade" in score_columns:
        scored = frame["auto_grade"].notna()
        parts = tuple(
            Breakdown(by, label, scoring_rate_table(groups[by], frame["auto_grade"], exclude_small=exclude_small))
            for by, label in BREAKDOWNS
        )
        stages.append(
            StageResult(
                "auto_grade", "Auto-grade scoring rate", "scoring", int(scored.sum()), parts, parts[0].table.cut
            )
        )
    differences = tuple(
        Difference(column, _dimension_label(column), by, mean_differences(groups[by], frame[column]))
        for column in score_columns
        for by in ("sex", "race_ethnicity")
    )
    threshold = categories().auto_grade_threshold if "passed_auto_grade" in stage_columns else None
    return AdverseImpactReport(source, len(frame), exclude_small, tuple(stages), differences, threshold)


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
        report = build_report(outcomes_from_csv(csv_text), exclude_small=exclude_small, source="a CSV export")
    else:
        report = build_report(applicant_frame(), exclude_small=exclude_small)
    record_event(actor, "fairness.report_viewed", "report", None, how=how, source=report.source, people=report.people)
    db.session.commit()
    return report


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value.item() if hasattr(value, "item") else value


def report_records(report: AdverseImpactReport) -> list[dict[str, Any]]:
    """Every rate row as a flat record (stage, breakdown, group, counts, ratio, tests)."""
    records = []
    for stage in report.stages:
        for part in stage.breakdowns:
            for row in part.table.rows.to_dict("records"):
                records.append(
                    {"stage": stage.name, "kind": stage.kind, "breakdown": part.by}
                    | {k: _number(v) for k, v in row.items()}
                    | {"unknown": part.table.unknown}
                )
    return records


def export_json(report: AdverseImpactReport) -> str:
    """The report as JSON: rates, unknown counts, differences and flags."""
    data = {
        "source": report.source,
        "people": report.people,
        "exclude_small": report.exclude_small,
        "auto_grade_threshold": report.threshold,
        "generated_at": report.generated_at,
        "stages": [
            {
                "name": s.name,
                "label": s.label,
                "kind": s.kind,
                "people": s.people,
                "median_cut": s.cut,
                "breakdowns": [
                    {
                        "by": p.by,
                        "reference": p.table.reference,
                        "unknown": p.table.unknown,
                        "rows": [{k: _number(v) for k, v in r.items()} for r in p.table.rows.to_dict("records")],
                    }
                    for p in s.breakdowns
                ],
            }
            for s in report.stages
        ],
        "differences": [
            {
                "measure": d.measure,
                "by": d.by,
                "method": SMD_NOTE,
                "rows": [{k: _number(v) for k, v in r.items()} for r in d.rows.to_dict("records")],
            }
            for d in report.differences
        ],
        "flags": [f.__dict__ for f in report.flags],
    }
    return json.dumps(data, indent=2, allow_nan=False, default=_number)


def export_csv(report: AdverseImpactReport) -> str:
    """The report's rate rows as CSV, one row per stage, breakdown and group."""
    out = io.StringIO()
    records = report_records(report)
    columns = ["stage", "kind", "breakdown", "group", "n", "selected", "rate", "impact_ratio"]
    columns += ["below_four_fifths", "reference", "excluded", "fisher_p", "z", "z_p", "unknown"]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for record in records:
        # A group label from a CSV export could start a spreadsheet formula: quote it as text.
        group = str(record["group"])
        record["group"] = "'" + group if group[:1] in ("=", "+", "-", "@") else group
        writer.writerow(record)
    return out.getvalue()


def export_html(report: AdverseImpactReport) -> str:
    """The report as one standalone HTML document (no scripts)."""
    return render_template("fairness/report_export.html", report=report, smd_note=SMD_NOTE)


__all__ = [
    "AdverseImpactReport",
    "Breakdown",
    "Difference",
    "Flag",
    "SMD_NOTE",
    "StageResult",
    "adverse_impact_report",
    "applicant_frame",
    "build_report",
    "categories",
    "export_csv",
    "export_html",
    "export_json",
    "import_self_identification",
    "outcomes_from_csv",
    "own_self_identification",
    "record_self_identification",
]
