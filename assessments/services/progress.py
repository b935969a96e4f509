"""A mentee's progress per rubric dimension: auto-graded part scores and mentor ratings over time.

Both kinds of evidence are put on one 0..1 scale (a part's share of its points; a rating's
position on the rubric's scale, level 1 = 0 and the top level = 1). The suggested next exercise
targets the dimension with the weakest recent evidence; scores earned after the solution was
open are shown but say little about skill, so the suggestion ignores them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from statistics import mean

import pandas as pd

from assessments import charts
from assessments.content.rubric import Rubric
from assessments.grading.report import GradeReport
from assessments.models import AttemptStatus, Case, User
from assessments.services import catalog, mentoring, scorecards
from assessments.services.practice import case_skills

RECENT = 3


@dataclass(frozen=True)
class Evidence:
    """One point of evidence on a dimension."""

    at: datetime
    dimension: str
    value: float  # 0..1
    source: str  # auto | mentor
    case_title: str
    attempt_id: int
    after_solution: bool = False
    level: int | None = None


@dataclass(frozen=True)
class DimensionProgress:
    """One dimension's evidence: auto-graded shares and mentor levels, oldest first."""

    dimension_id: str
    name: str
    auto: list[Evidence]
    mentor: list[Evidence]
    recent: float | None  # mean of the latest evidence that counts, None without any

    @property
    def trend(self) -> float | None:
        """Latest auto-graded share minus the first, None with fewer than two."""
        return self.auto[-1].value - self.auto[0].value if len(self.auto) > 1 else None


@dataclass(frozen=True)
class Suggestion:
    """The next exercise: a practice case that exercises the weakest dimension."""

    dimension_id: str
    dimension_name: str
    case: Case
    reason: str


@dataclass(frozen=True)
class Progress:
    """Everything the progress pages show for one mentee."""

    mentee: User
    dimensions: list[DimensionProgress]
    suggestion: Suggestion | None
    figure_json: str


def _scale(level: int, rubric: Rubric) -> float:
    values = sorted(lv.value for lv in rubric.levels)
    return (level - values[0]) / (values[-1] - values[0])


def evidence_for(mentee: User, rubric: Rubric) -> list[Evidence]:
    """Every auto-graded part score and mentor rating of the mentee's attempts, oldest first."""
    specs = catalog.case_specs()
    points: list[Evidence] = []
    for attempt in mentoring.attempts_of(mentee):
        if attempt.status != AttemptStatus.DONE or not attempt.results:
            continue
        case = attempt.practice.case
        spec = specs.get(case.slug)
        if spec is None:
            continue
        report = GradeReport.from_dict(attempt.results)
        for check in report.checks:
            if check.possible <= 0:
                continue
            try:
                dimensions = spec.part(check.part_id).dimensions
            except KeyError:
                continue
            for dimension in dimensions:
                points.append(
                    Evidence(
                        attempt.submitted_at,
                        dimension,
                        max(0.0, check.earned / check.possible),
                        "auto",
                        case.title,
                        attempt.id,
                        attempt.after_solution,
                    )
                )
    for review in mentoring.mentoring_reviews_of(mentee):
        attempt = review.practice_attempt
        assert attempt is not None and review.submitted_at is not None
        for rating in review.ratings:
            if rating.level is not None:
                points.append(
                    Evidence(
                        review.submitted_at,
                        rating.dimension_id,
                        _scale(rating.level, rubric),
                        "mentor",
                        attempt.practice.case.title,
                        attempt.id,
                        level=rating.level,
                    )
                )
    return sorted(points, key=lambda p: p.at)


def _practised_dimensions() -> dict[str, list[Case]]:
    specs = catalog.case_specs()
    cases: dict[str, list[Case]] = defaultdict(list)
    for case in catalog.current_cases(practice=True):
        if case.slug in specs:
            for dimension in case_skills(specs[case.slug]):
                cases[dimension].append(case)
    return cases


def _suggest(dimensions: list[DimensionProgress], practised: dict[str, list[Case]]) -> Suggestion | None:
    candidates = [d for d in dimensions if practised.get(d.dimension_id)]
    if not candidates:
        return None
    # No evidence at all is the weakest evidence there is.
    weakest = min(candidates, key=lambda d: -1.0 if d.recent is None else d.recent)
    specs = catalog.case_specs()

    def weight(case: Case) -> float:
        """Points the case's parts give on the weakest dimension."""
        return sum(p.points for p in specs[case.slug].parts if weakest.dimension_id in p.dimensions)

    case = max(practised[weakest.dimension_id], key=weight)
    if weakest.recent is None:
        reason = f"You have no evidence on {weakest.name} yet."
    else:
        reason = f"Your recent evidence on {weakest.name} averages {weakest.recent:.0%}, your weakest."
    return Suggestion(weakest.dimension_id, weakest.name, case, reason)


def mentee_progress(mentee: User) -> Progress:
    """Per dimension the trend of auto-graded scores and mentor ratings, the chart and a suggestion."""
    rubric = scorecards.rubric_for()
    evidence = evidence_for(mentee, rubric)
    practised = _practised_dimensions()
    rows = []
    for dimension in rubric.dimensions:
        auto = [e for e in evidence if e.dimension == dimension.id and e.source == "auto"]
        mentor = [e for e in evidence if e.dimension == dimension.id and e.source == "mentor"]
        if not auto and not mentor and dimension.id not in practised:
            continue
        counted = [e for e in evidence if e.dimension == dimension.id and not e.after_solution]
        recent = mean(e.value for e in counted[-RECENT:]) if counted else None
        rows.append(DimensionProgress(dimension.id, dimension.name, auto, mentor, recent))
    figure = charts.progress_figure(evidence_frame(rows), {row.dimension_id: row.name for row in rows})
    return Progress(mentee, rows, _suggest(rows, practised), charts.script_json(figure))


def evidence_frame(rows: list[DimensionProgress]) -> pd.DataFrame:
    """Every point of evidence of these rows, one per line, for `charts.progress_figure`."""
    points = [point for row in rows for point in (*row.auto, *row.mentor)]
    return pd.DataFrame(
        {
            "dimension": pd.Series([p.dimension for p in points], dtype=object),
            "source": pd.Series([p.source for p in points], dtype=object),
            "at": pd.Series([p.at.isoformat() for p in points], dtype=object),
            "value": pd.Series([p.value for p in points], dtype=float),
            "case_title": pd.Series([p.case_title for p in points], dtype=object),
            # Object, not float: a mentor's level stays the integer it was (auto points have none).
            "level": pd.Series([p.level for p in points], dtype=object),
            "after_solution": pd.Series([p.after_solution for p in points], dtype=bool),
        }
    )
