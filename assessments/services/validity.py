"""The validity report: does the assessment predict hiring and later performance?

One row per assessed candidate (their newest invitation with a graded submission or a submitted
hiring scorecard): the newest auto-grade as a share of points, each scorecard dimension's mean
over the interviewers' current scorecards (an amendment replaces the original; mentoring reviews
never count), their mean (the scorecard composite) and the mean overall recommendation on its
1..4 scale ("no decision" left out). Outcomes come from `outcome` rows only: a candidate without
one is left out of every outcome's n. The statistics are `stats.validity`'s.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from assessments.errors import NotFound
from assessments.extensions import db
from assessments.models import (
    GradeStatus,
    Invitation,
    Outcome,
    Scorecard,
    ScorecardPurpose,
    ScorecardStatus,
    Submission,
)
from assessments.services import scorecards
from assessments.services.outcomes import rating_scale
from assessments.stats.validity import (
    MIN_CORRELATION_N,
    MIN_REGRESSION_N,
    Correlation,
    IncrementalValidity,
    correlation,
    incremental_validity,
)

AUTO_GRADE = "auto_grade"
SCORECARD_MEAN = "scorecard_mean"
RECOMMENDATION = "recommendation"
REPORT_BOOTSTRAP = 1000
BOOTSTRAP_SEED = 17
# The scorecards' own summary comes first; the auto-grade is what is tested for adding to it.
INCREMENTAL_BASE = (SCORECARD_MEAN, RECOMMENDATION)


@dataclass(frozen=True)
class Measure:
    """A column of the validity frame and how the page names it."""

    key: str
    label: str
    restricted: bool = False


@dataclass(frozen=True)
class ValidityReport:
    """Every correlation and incremental validity, with the counts behind them."""

    predictors: tuple[Measure, ...]
    outcomes: tuple[Measure, ...]
    correlations: dict[tuple[str, str], Correlation]
    incremental: tuple[IncrementalValidity, ...]
    n_assessed: int
    n_with_outcome: int
    n_hired: int
    scale: tuple[float, float]
    n_boot: int
    min_correlation_n: int = MIN_CORRELATION_N
    min_regression_n: int = MIN_REGRESSION_N

    def cell(self, predictor: str, outcome: str) -> Correlation:
        """The correlation of one predictor with one outcome."""
        return self.correlations[(predictor, outcome)]


def _outcome_measures(scale: tuple[float, float]) -> tuple[Measure, ...]:
    span = f"rated {scale[0]:g}..{scale[1]:g}"
    return (
        Measure("hired", "Hired (1) or not (0)"),
        Measure("rating_6m", f"Performance at 6 months ({span})", restricted=True),
        Measure("rating_12m", f"Performance at 12 months ({span})", restricted=True),
    )


def _current_scorecards() -> dict[int, list[Scorecard]]:
    query = (
        select(Scorecard)
        .where(
            Scorecard.purpose == ScorecardPurpose.HIRING,
            Scorecard.status == ScorecardStatus.SUBMITTED,
            Scorecard.invitation_id.is_not(None),
        )
        .options(selectinload(Scorecard.ratings))
        .order_by(Scorecard.id)
    )
    latest: dict[tuple[int, int], Scorecard] = {}
    for card in db.session.scalars(query):
        latest[(card.invitation_id, card.interviewer_id)] = card
    by_invitation: dict[int, list[Scorecard]] = defaultdict(list)
    for (invitation_id, _), card in latest.items():
        by_invitation[invitation_id].append(card)
    return by_invitation


def _auto_grade(invitation: Invitation) -> float | None:
    if not invitation.submissions:
        return None
    runs = [
        run
        for run in invitation.submissions[-1].grade_runs
        if run.status == GradeStatus.DONE and run.possible and run.earned is not None
    ]
    return None if not runs else float(runs[-1].earned) / float(runs[-1].possible)


def _recommendation_score(card: Scorecard) -> float | None:
    if not card.recommendation:
        return None
    try:
        score = scorecards.rubric_for(card).recommendation(card.recommendation).score
    except (KeyError, NotFound):
        # A scorecard against a rubric no longer on disk, or a retired recommendation: no score.
        return None
    return None if score is None else float(score)


def validity_frame() -> tuple[pd.DataFrame, tuple[str, ...]]:
    """One row per assessed candidate: predictors and outcomes; and the dimension ids seen, rubric order first."""
    cards = _current_scorecards()
    query = (
        select(Invitation)
        .options(selectinload(Invitation.submissions).selectinload(Submission.grade_runs))
        .order_by(Invitation.created_at, Invitation.id)
    )
    rows: dict[int, dict[str, float | None]] = {}
    dimensions_seen: set[str] = set()
    for invitation in db.session.scalars(query):
        grade = _auto_grade(invitation)
        panel = cards.get(invitation.id, [])
        if grade is None and not panel:
            continue
        row: dict[str, float | None] = {AUTO_GRADE: grade}
        levels: dict[str, list[int]] = defaultdict(list)
        for card in panel:
            for rating in card.ratings:
                if rating.level is not None:
                    levels[rating.dimension_id].append(rating.level)
        for dimension, values in levels.items():
            row[f"dim:{dimension}"] = float(np.mean(values))
            dimensions_seen.add(dimension)
        dimension_means = [row[f"dim:{d}"] for d in levels]
        row[SCORECARD_MEAN] = float(np.mean(dimension_means)) if dimension_means else None
        recommendations = [s for s in (_recommendation_score(card) for card in panel) if s is not None]
        row[RECOMMENDATION] = float(np.mean(recommendations)) if recommendations else None
        # Invitations come oldest first: a candidate's newest assessment replaces older ones.
        rows[invitation.candidate_id] = row
    frame = pd.DataFrame.from_dict(rows, orient="index", dtype=float)
    frame.index.name = "candidate_id"
    for column in (AUTO_GRADE, SCORECARD_MEAN, RECOMMENDATION):
        if column not in frame.columns:
            frame[column] = np.nan
    outcomes = {
        o.candidate_id: (float(o.hired), o.rating_6m, o.rating_12m) for o in db.session.scalars(select(Outcome))
    }
    recorded = pd.DataFrame.from_dict(
        outcomes, orient="index", columns=["hired", "rating_6m", "rating_12m"], dtype=float
    )
    frame = frame.join(recorded, how="left")
    for column in ("hired", "rating_6m", "rating_12m"):
        if column not in frame.columns:
            frame[column] = np.nan
    rubric_order = list(scorecards.rubric_for().dimension_ids)
    ordered = [d for d in rubric_order if d in dimensions_seen] + sorted(dimensions_seen - set(rubric_order))
    return frame, tuple(ordered)


def _predictors(dimensions: tuple[str, ...]) -> tuple[Measure, ...]:
    rubric = scorecards.rubric_for()
    names = {d.id: d.name for d in rubric.dimensions}
    return (
        Measure(AUTO_GRADE, "Auto-grade (share of points)"),
        *(Measure(f"dim:{d}", f"Scorecards: {names.get(d, d)} (mean over interviewers)") for d in dimensions),
        Measure(SCORECARD_MEAN, "Scorecards: mean of all dimensions"),
        Measure(RECOMMENDATION, "Overall recommendation (1 strong no .. 4 strong yes, mean)"),
    )


def build_validity(*, n_boot: int = REPORT_BOOTSTRAP) -> ValidityReport:
    """The validity report over every assessed candidate and every recorded outcome."""
    frame, dimensions = validity_frame()
    scale = rating_scale()
    predictors, outcomes = _predictors(dimensions), _outcome_measures(scale)
    correlations = {
        (p.key, o.key): correlation(frame, p.key, o.key, restricted=o.restricted) for p in predictors for o in outcomes
    }
    incremental = tuple(
        incremental_validity(frame, o.key, INCREMENTAL_BASE, AUTO_GRADE, n_boot=n_boot, seed=BOOTSTRAP_SEED)
        for o in outcomes
    )
    has_outcome = frame[["hired", "rating_6m", "rating_12m"]].notna().any(axis=1)
    return ValidityReport(
        predictors=predictors,
        outcomes=outcomes,
        correlations=correlations,
        incremental=incremental,
        n_assessed=len(frame),
        n_with_outcome=int(has_outcome.sum()),
        n_hired=int((frame["hired"] == 1).sum()),
        scale=scale,
        n_boot=n_boot,
    )


def report_to_dict(report: ValidityReport) -> dict[str, object]:
    """The report as plain JSON-ready data (the CLI's --format json)."""
    return {
        "n_assessed": report.n_assessed,
        "n_with_outcome": report.n_with_outcome,
        "n_hired": report.n_hired,
        "rating_scale": list(report.scale),
        "min_correlation_n": report.min_correlation_n,
        "min_regression_n": report.min_regression_n,
        "bootstrap_resamples": report.n_boot,
        "predictors": [asdict(p) for p in report.predictors],
        "outcomes": [asdict(o) for o in report.outcomes],
        "correlations": [asdict(c) for c in report.correlations.values()],
        "incremental_validity": [asdict(i) for i in report.incremental],
    }


def report_json(report: ValidityReport) -> str:
    """The report as indented JSON."""
    return json.dumps(report_to_dict(report), indent=2)


def report_text(report: ValidityReport) -> str:
    """The report as plain text, one line per number, each with its n."""

    def number(value: float | None) -> str:
        return "—" if value is None else f"{value:+.2f}"

    lines = [
        f"Validity report: {report.n_assessed} assessed, {report.n_with_outcome} with outcomes, {report.n_hired} hired.",
        f"Correlations need {report.min_correlation_n} pairs; incremental validity needs "
        f"{report.min_regression_n} complete cases (and 5 per predictor).",
    ]
    for outcome in report.outcomes:
        lines.append(f"\n{outcome.label}")
        for predictor in report.predictors:
            cell = report.cell(predictor.key, outcome.key)
            if not cell.enough:
                lines.append(f"  {predictor.label}: {cell.note} (n = {cell.n})")
                continue
            text = f"  {predictor.label}: r = {number(cell.r)} [{number(cell.ci_low)}, {number(cell.ci_high)}], n = {cell.n}"
            if cell.corrected is not None:
                text += f"; Case II corrected {number(cell.corrected)} [{number(cell.corrected_low)}, {number(cell.corrected_high)}]"
            lines.append(text)
    lines.append("\nIncremental validity of the auto-grade over the scorecards (ΔR², bootstrap interval)")
    for item in report.incremental:
        label = next(o.label for o in report.outcomes if o.key == item.outcome)
        if not item.enough:
            lines.append(f"  {label}: {item.note} (n = {item.n})")
        else:
            lines.append(
                f"  {label}: ΔR² = {item.delta_r2:.3f} [{item.ci_low:.3f}, {item.ci_high:.3f}], "
                f"F-test p = {item.p:.3g}, n = {item.n}"
            )
    return "\n".join(lines) + "\n"
