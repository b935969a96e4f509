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

import plotly.graph_objects as go

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
                points.append(Evidence(attempt.submitted_at, dimension, max(0.0, check.earned / check.possible),
                                       "auto", case.title, attempt.id, attempt.after_solution))
    for review in mentoring.mentoring_reviews_of(mentee):
        attempt = review.practice_attempt
        assert attempt is not None and review.submitted_at is not None
        for rating in review.ratings:
            if rating.level is not None:
                points.append(Evidence(review.submitted_at, rating.dimension_id, _scale(rating.level, rubric),
                                       "mentor", attempt.practice.case.title, attempt.id, level=rating.level))
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
    figure = progress_figure(rows)
    return Progress(mentee, rows, _suggest(rows, practised), _safe_json(figure))


def _safe_json(figure: go.Figure) -> str:
    # The JSON sits inside a <script type="application/json"> block: "</" must not close it.
    return figure.to_json().replace("</", "<\\/")


_PALETTE = ("#2454c5", "#1f7a4d", "#b3261e", "#8a5a00", "#6b3fa0", "#00707a", "#a0306b", "#555555")


def progress_figure(rows: list[DimensionProgress]) -> go.Figure:
    """Auto-graded shares as lines and mentor ratings as diamonds, one colour per dimension."""
    figure = go.Figure()
    n = 0
    for index, row in enumerate(rows):
        colour = _PALETTE[index % len(_PALETTE)]
        if row.auto:
            n += len(row.auto)
            figure.add_scatter(
                x=[e.at.isoformat() for e in row.auto], y=[e.value for e in row.auto], mode="lines+markers",
                name=f"{row.name} (auto-graded)", line={"color": colour}, legendgroup=row.dimension_id,
                marker={"symbol": ["circle-open" if e.after_solution else "circle" for e in row.auto]},
                customdata=[e.case_title for e in row.auto],
                hovertemplate="%{customdata}<br>%{y:.0%} of the points<extra>" + row.name + "</extra>",
            )
        if row.mentor:
            n += len(row.mentor)
            figure.add_scatter(
                x=[e.at.isoformat() for e in row.mentor], y=[e.value for e in row.mentor], mode="markers",
                name=f"{row.name} (mentor)", legendgroup=row.dimension_id,
                marker={"symbol": "diamond", "size": 12, "color": colour},
                customdata=[[e.case_title, e.level] for e in row.mentor],
                hovertemplate="%{customdata[0]}<br>mentor rating: level %{customdata[1]}"
                f"<extra>{row.name}</extra>",
            )
    figure.update_layout(
        title=f"Progress per dimension (n = {n} points of evidence)",
        yaxis={"title": "share of points · mentor level (1 = 0, 4 = 1)", "range": [-0.05, 1.05], "tickformat": ".0%"},
        xaxis={"title": "when"},
        margin={"l": 70, "r": 20, "t": 50, "b": 40},
        height=420,
        paper_bgcolor="white",
        plot_bgcolor="white",
        font={"family": "system-ui, sans-serif", "size": 13},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure
