"""A mentee's progress per rubric dimension and per case: one score per attempt, mentor ratings, a trend.

Both kinds of evidence are put on one 0..1 scale. An attempt gives one score per dimension: the
points it earned on the parts that exercise that dimension over the points those parts offer (not
one 0/100% value per check, which made rows of binary chains). A mentor rating is its position on
the rubric's scale (level 1 = 0, the top level = 1). A trend compares the first and the latest
attempt on the same case (scores on different cases measure different things) and says how many
attempts it rests on. Attempts made after the solution was open are shown, marked, but say little
about skill: trends, recent evidence and the suggestion leave them out.
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
from assessments.services.practice import dimension_weights, main_dimensions, score_share

RECENT = 3
# Recent evidence at or above this share counts as solid; the suggestion then looks for untried ground.
SOLID = 0.7


@dataclass(frozen=True)
class Evidence:
    """One attempt's score on one dimension (auto), or one mentor rating of an attempt."""

    at: datetime
    dimension: str
    value: float  # 0..1
    source: str  # auto | mentor
    case_slug: str
    case_title: str
    attempt_id: int
    attempt_number: int
    after_solution: bool = False
    level: int | None = None
    earned: float | None = None  # auto: points earned on the dimension's parts
    possible: float | None = None  # auto: points those parts offer


@dataclass(frozen=True)
class Trend:
    """The change from the first to the latest counted attempt on a case, averaged over cases."""

    change: float  # in shares: +0.25 is 25 points better
    attempts: int  # how many counted attempts the trend rests on
    cases: int


@dataclass(frozen=True)
class DimensionProgress:
    """One dimension's evidence: a score per attempt and mentor levels, oldest first."""

    dimension_id: str
    name: str
    auto: list[Evidence]
    mentor: list[Evidence]
    recent: float | None  # mean of the current evidence (`_current`), None without any
    recent_n: int = 0
    trend: Trend | None = None


@dataclass(frozen=True)
class AttemptScore:
    """One graded attempt's share of the case's points."""

    attempt_id: int
    number: int
    at: datetime
    share: float
    after_solution: bool


@dataclass(frozen=True)
class CaseProgress:
    """One practised case: each graded attempt's score, oldest first, and the trend over them."""

    case: Case
    skills: tuple[str, ...]
    attempts: list[AttemptScore]
    trend: Trend | None


@dataclass(frozen=True)
class Suggestion:
    """The next exercise: a practice case that mainly exercises the dimension the evidence points to."""

    dimension_id: str
    dimension_name: str
    case: Case
    reason: str


@dataclass(frozen=True)
class Progress:
    """Everything the progress pages show for one mentee."""

    mentee: User
    dimensions: list[DimensionProgress]
    cases: list[CaseProgress]
    suggestion: Suggestion | None
    figure_json: str


def _scale(level: int, rubric: Rubric) -> float:
    values = sorted(lv.value for lv in rubric.levels)
    return (level - values[0]) / (values[-1] - values[0])


def evidence_for(mentee: User, rubric: Rubric) -> list[Evidence]:
    """Per graded attempt one score per dimension its case's parts exercise, and every mentor
    rating, oldest first."""
    specs = catalog.case_specs()
    points: list[Evidence] = []
    for attempt in mentoring.attempts_of(mentee):
        if attempt.status != AttemptStatus.DONE or not attempt.results:
            continue
        case = attempt.practice.case
        spec = specs.get(case.slug)
        if spec is None:
            continue
        earned: dict[str, float] = defaultdict(float)
        possible: dict[str, float] = defaultdict(float)
        for check in GradeReport.from_dict(attempt.results).checks:
            if check.possible <= 0:
                continue
            try:
                dimensions = spec.part(check.part_id).dimensions
            except KeyError:
                continue
            for dimension in dimensions:
                earned[dimension] += max(0.0, check.earned)
                possible[dimension] += check.possible
        for dimension, offered in possible.items():
            points.append(
                Evidence(
                    attempt.submitted_at,
                    dimension,
                    min(1.0, earned[dimension] / offered),
                    "auto",
                    case.slug,
                    case.title,
                    attempt.id,
                    attempt.number,
                    attempt.after_solution,
                    earned=earned[dimension],
                    possible=offered,
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
                        attempt.practice.case.slug,
                        attempt.practice.case.title,
                        attempt.id,
                        attempt.number,
                        level=rating.level,
                    )
                )
    return sorted(points, key=lambda p: (p.at, p.attempt_id))


def _current(auto: list[Evidence], mentor: list[Evidence]) -> list[Evidence]:
    """The evidence a dimension's recent level rests on: the latest counted score on each case (a
    better retry replaces the first try) and the mentor's ratings, the newest RECENT of them."""
    latest: dict[str, Evidence] = {}
    for point in auto:
        if not point.after_solution:
            latest[point.case_slug] = point
    return sorted([*latest.values(), *mentor], key=lambda p: (p.at, p.attempt_id))[-RECENT:]


def trend_of(scores: list[tuple[str, float]]) -> Trend | None:
    """Latest minus first score per case (given oldest first as (case, score)), averaged over the
    cases with at least two; None when no case has two."""
    by_case: dict[str, list[float]] = defaultdict(list)
    for case, score in scores:
        by_case[case].append(score)
    repeated = [values for values in by_case.values() if len(values) > 1]
    if not repeated:
        return None
    return Trend(
        mean(values[-1] - values[0] for values in repeated), sum(len(values) for values in repeated), len(repeated)
    )


def _practised_dimensions() -> dict[str, list[Case]]:
    """Each dimension with the practice cases that mainly exercise it."""
    specs = catalog.case_specs()
    cases: dict[str, list[Case]] = defaultdict(list)
    for case in catalog.current_cases(practice=True):
        if case.slug in specs:
            for dimension in main_dimensions(specs[case.slug]):
                cases[dimension].append(case)
    return cases


def _suggest(dimensions: list[DimensionProgress], practised: dict[str, list[Case]]) -> Suggestion | None:
    candidates = [d for d in dimensions if practised.get(d.dimension_id)]
    if not candidates:
        return None
    measured = [d for d in candidates if d.recent is not None]
    weak = [d for d in measured if d.recent is not None and d.recent < SOLID]
    untried = [d for d in candidates if d.recent is None]
    if weak:
        target = min(weak, key=lambda d: d.recent or 0.0)
        reason = (
            f"The latest {_results(target.recent_n)} on {target.name} average {target.recent:.0%}, "
            f"the lowest of the dimensions{_trend_words(target.trend)}."
        )
    elif untried:
        target = untried[0]
        reason = f"No evidence on {target.name} yet" + (
            f", and the recent results elsewhere are all at least {SOLID:.0%}." if measured else "."
        )
    else:
        target = min(measured, key=lambda d: d.recent or 0.0)
        reason = f"The recent results are all at least {SOLID:.0%}; {target.name} is the lowest at {target.recent:.0%}."
    specs = catalog.case_specs()
    case = max(practised[target.dimension_id], key=lambda c: dimension_weights(specs[c.slug])[target.dimension_id])
    return Suggestion(target.dimension_id, target.name, case, reason)


def _results(n: int) -> str:
    return f"{n} results" if n != 1 else "result"


def _trend_words(trend: Trend | None) -> str:
    if trend is None:
        return ""
    return f" ({trend.change * 100:+.0f} points over {trend.attempts} attempts)"


def _case_rows(mentee: User) -> list[CaseProgress]:
    """Every case the mentee has a graded attempt on, with each attempt's score, by first attempt."""
    specs = catalog.case_specs()
    rows: dict[int, list[AttemptScore]] = defaultdict(list)
    cases: dict[int, Case] = {}
    for attempt in reversed(mentoring.attempts_of(mentee)):
        share = score_share(attempt)
        if share is None:
            continue
        case = attempt.practice.case
        cases[case.id] = case
        rows[case.id].append(
            AttemptScore(attempt.id, attempt.number, attempt.submitted_at, share, attempt.after_solution)
        )
    return [
        CaseProgress(
            cases[case_id],
            main_dimensions(specs[cases[case_id].slug]) if cases[case_id].slug in specs else (),
            scores,
            trend_of([(str(case_id), s.share) for s in scores if not s.after_solution]),
        )
        for case_id, scores in rows.items()
    ]


def mentee_progress(mentee: User) -> Progress:
    """Per dimension and per case the scores over attempts with their trend, the chart and a suggestion."""
    rubric = scorecards.rubric_for()
    evidence = evidence_for(mentee, rubric)
    practised = _practised_dimensions()
    rows = []
    for dimension in rubric.dimensions:
        auto = [e for e in evidence if e.dimension == dimension.id and e.source == "auto"]
        mentor = [e for e in evidence if e.dimension == dimension.id and e.source == "mentor"]
        if not auto and not mentor and dimension.id not in practised:
            continue
        counted = _current(auto, mentor)
        rows.append(
            DimensionProgress(
                dimension.id,
                dimension.name,
                auto,
                mentor,
                mean(e.value for e in counted) if counted else None,
                len(counted),
                trend_of([(e.case_slug, e.value) for e in auto if not e.after_solution]),
            )
        )
    figure = charts.progress_figure(evidence_frame(rows), {row.dimension_id: row.name for row in rows})
    return Progress(mentee, rows, _case_rows(mentee), _suggest(rows, practised), charts.script_json(figure))


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
            "attempt_number": pd.Series([p.attempt_number for p in points], dtype=int),
            # Object, not float: a mentor's level stays the integer it was (auto points have none).
            "level": pd.Series([p.level for p in points], dtype=object),
            "after_solution": pd.Series([p.after_solution for p in points], dtype=bool),
        }
    )
