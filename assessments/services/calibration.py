"""Calibration: hiring ratings and auto-grades out of the database, into the stats layer.

Only hiring scorecards count (mentoring reviews never do), and of each interviewer's scorecards
for an invitation only the current submitted one (an amendment replaces the original).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from flask import current_app
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from assessments import charts
from assessments.content.rubric import Rubric
from assessments.errors import InvalidInput
from assessments.extensions import db
from assessments.grading.report import GradeReport
from assessments.models import (
    Case,
    GradeRun,
    GradeStatus,
    Invitation,
    Scorecard,
    ScorecardPurpose,
    ScorecardStatus,
    Submission,
    User,
)
from assessments.services import catalog, scorecards
from assessments.stats.alpha import LEVELS
from assessments.stats.leniency import REFERENCE, standout_raters
from assessments.stats.ratings import DEFAULT_MIN_N, OVERALL, CalibrationInputError
from assessments.stats.ratings_csv import parse_scale, read_ratings_csv
from assessments.stats.reading_order import in_reading_order
from assessments.stats.report import CalibrationReport, calibration_report

REPORT_BOOTSTRAP = 500
ALPHA_LEVELS = LEVELS
DATABASE_SOURCE = "submitted hiring scorecards"
# The interviewer filter, both ways: the interviewer's own ratings, or every rating of the
# candidates they interviewed (their co-panelists' too: what leniency and reliability need).
OWN_RATINGS = "own"
THEIR_PANELS = "panels"
INTERVIEWER_SCOPES = {
    THEIR_PANELS: "everyone on their panels",
    OWN_RATINGS: "this interviewer's own ratings",
}
# Below these a headline carries a caveat (stats.ratings.MinN says why each is what it is).
RATER_MINIMUM = DEFAULT_MIN_N.rater_candidates
DIMENSION_MINIMUM = DEFAULT_MIN_N.alpha_units
REPORT_CACHE_SIZE = 32
_CACHE_KEY = "assessments.calibration_reports"


@dataclass(frozen=True)
class CalibrationFilters:
    """Which scorecards the report covers."""

    case: str | None = None
    rubric: str | None = None
    interviewer: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    interviewer_scope: str = THEIR_PANELS


@dataclass(frozen=True)
class Headlines:
    """What a hiring manager should take from the report at a glance."""

    most_lenient: str | None
    most_lenient_effect: float | None
    most_severe: str | None
    most_severe_effect: float | None
    least_reliable: str | None
    least_reliable_alpha: float | None
    most_lenient_n: int | None = None
    most_lenient_interval: tuple[float, float] | None = None
    most_lenient_small_n: bool = False
    most_severe_n: int | None = None
    most_severe_interval: tuple[float, float] | None = None
    most_severe_small_n: bool = False
    least_reliable_n: int | None = None
    least_reliable_small_n: bool = False
    raters_compared: int = 0
    reference: str = REFERENCE
    rule: str = ""
    n_candidates: int = 0
    rater_minimum: int = RATER_MINIMUM
    dimension_minimum: int = DIMENSION_MINIMUM


@dataclass(frozen=True)
class CalibrationView:
    """The report, its headlines, and the evidence notes behind the agenda."""

    report: CalibrationReport
    headlines: Headlines
    evidence: dict[tuple[str, str, str], str]
    filters: CalibrationFilters
    source: str = DATABASE_SOURCE
    notes: tuple[str, ...] = ()
    # candidate label → (invitation id, newest submission id), for links from the agenda
    links: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    # the page's plotly figures as JSON, built with the report (building them takes longer than the page)
    figures: dict[str, str] = field(default_factory=dict)


def _current_scorecards(filters: CalibrationFilters) -> list[Scorecard]:
    query = (
        select(Scorecard)
        .join(Invitation, Scorecard.invitation_id == Invitation.id)
        .join(Case, Invitation.case_id == Case.id)
        .where(Scorecard.purpose == ScorecardPurpose.HIRING, Scorecard.status == ScorecardStatus.SUBMITTED)
        .options(
            selectinload(Scorecard.ratings),
            selectinload(Scorecard.interviewer),
            selectinload(Scorecard.invitation).selectinload(Invitation.candidate),
        )
        .order_by(Scorecard.id)
    )
    if filters.case:
        query = query.where(Case.slug == filters.case)
    if filters.rubric:
        query = query.where(Scorecard.rubric_slug == filters.rubric)
    if filters.date_from:
        query = query.where(Scorecard.submitted_at >= datetime.combine(filters.date_from, time(), UTC))
    if filters.date_to:
        end = datetime.combine(filters.date_to, time(), UTC) + timedelta(days=1)
        query = query.where(Scorecard.submitted_at < end)
    latest: dict[tuple[int, int], Scorecard] = {}
    for scorecard in db.session.scalars(query):
        latest[(scorecard.invitation_id, scorecard.interviewer_id)] = scorecard
    cards = list(latest.values())
    if filters.interviewer and filters.interviewer_scope == OWN_RATINGS:
        cards = [s for s in cards if s.interviewer.email == filters.interviewer]
    elif filters.interviewer:
        # A rater's leniency needs the other raters of the same candidates: keep their panels whole.
        seen = {s.invitation_id for s in cards if s.interviewer.email == filters.interviewer}
        cards = [s for s in cards if s.invitation_id in seen]
    return cards


def calibration_rubric(filters: CalibrationFilters) -> Rubric:
    """The rubric whose scale and recommendations the report reads: the filtered one, else the default.

    :raises InvalidInput: for a rubric that is not in the rubrics folder.
    """
    if filters.rubric is None:
        return scorecards.rubric_for()
    rubrics, _ = scorecards.rubric_library()
    if filters.rubric not in rubrics:
        raise InvalidInput(f"There is no rubric called {filters.rubric!r}.")
    return rubrics[filters.rubric]


def _candidate_label(invitation: Invitation) -> str:
    return f"{invitation.candidate.name} (#{invitation.id})"


def hiring_frames(
    filters: CalibrationFilters,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[tuple[str, str, str], str]]:
    """Ratings (long), scorecards (recommendations) and evidence notes for the filters."""
    ratings, cards, evidence = [], [], {}
    no_decision = calibration_rubric(filters).no_decision.id
    for scorecard in _current_scorecards(filters):
        candidate = _candidate_label(scorecard.invitation)
        interviewer = scorecard.interviewer.display_name
        cards.append((candidate, interviewer, scorecard.recommendation or no_decision))
        for rating in scorecard.ratings:
            level = np.nan if rating.level is None else float(rating.level)
            ratings.append((candidate, interviewer, rating.dimension_id, level))
            evidence[(candidate, interviewer, rating.dimension_id)] = rating.evidence
    return (
        pd.DataFrame(ratings, columns=["candidate", "interviewer", "dimension", "rating"]),
        pd.DataFrame(cards, columns=["candidate", "interviewer", "recommendation"]),
        evidence,
    )


def auto_grade_frames(
    filters: CalibrationFilters,
) -> tuple[pd.DataFrame, dict[str, tuple[str, ...]]]:
    """Per candidate and checked part, the newest auto-grade's score fraction; and part → dimensions."""
    query = (
        select(Invitation)
        .join(Case)
        .options(
            selectinload(Invitation.submissions).selectinload(Submission.grade_runs),
            selectinload(Invitation.candidate),
            selectinload(Invitation.case),
        )
    )
    if filters.case:
        query = query.where(Case.slug == filters.case)
    if filters.rubric or filters.interviewer or filters.date_from or filters.date_to:
        # These filters select scorecards: the auto-grades beside them are those of the same candidates.
        rated = {s.invitation_id for s in _current_scorecards(filters)}
        query = query.where(Invitation.id.in_(rated))
    rows, part_dimensions = [], {}
    for invitation in db.session.scalars(query):
        if not invitation.submissions:
            continue
        runs = [r for r in invitation.submissions[-1].grade_runs if r.status == GradeStatus.DONE and r.results]
        if not runs:
            continue
        report = GradeReport.from_dict(runs[-1].results)
        spec = catalog.case_specs().get(invitation.case.slug)
        for check in report.checks:
            if check.possible <= 0:
                continue
            part = f"{report.case_slug}:{check.part_id}"
            rows.append((_candidate_label(invitation), part, check.earned / check.possible))
            if spec is not None and part not in part_dimensions:
                try:
                    part_dimensions[part] = spec.part(check.part_id).dimensions
                except KeyError:
                    pass
    return pd.DataFrame(rows, columns=["candidate", "part", "score_fraction"]), part_dimensions


def headlines(report: CalibrationReport, n_candidates: int = 0) -> Headlines:
    """The most lenient and most severe interviewer, only if they stand out, and the least reliable dimension.

    A rater is named only when their shrunken effect's interval excludes zero after a Bonferroni
    correction for the number of raters compared (`stats.leniency.standout_raters`); otherwise
    the page says no rater stands out. Each carries its n in candidates and whether that is below
    the stated minimum (`RATER_MINIMUM`, `DIMENSION_MINIMUM`).
    """
    top, bottom = standout_raters(report.leniency)
    overall = report.leniency[report.leniency["dimension"] == OVERALL].dropna(subset=["effect"])
    compared = len(overall)
    # The least reliable dimension among those with enough candidates; else among all, with a caveat.
    alpha = report.alpha.dropna(subset=["alpha"])
    enough = alpha[~alpha["min_n_warning"]]
    pool = enough if len(enough) else alpha
    worst = pool.loc[pool["alpha"].idxmin()] if len(pool) else None
    rule = (
        (
            f"named only when the 95% interval, widened for {compared} interviewers compared "
            f"(Bonferroni, z = {overall['z_corrected'].iloc[0]:.2f}), excludes 0"
        )
        if compared
        else ""
    )

    def interval(row: pd.Series | None) -> tuple[float, float] | None:
        return None if row is None else (float(row["ci_low"]), float(row["ci_high"]))

    return Headlines(
        most_lenient=None if top is None else str(top["interviewer"]),
        most_lenient_effect=None if top is None else float(top["effect"]),
        most_severe=None if bottom is None else str(bottom["interviewer"]),
        most_severe_effect=None if bottom is None else float(bottom["effect"]),
        least_reliable=None if worst is None else str(worst["dimension"]),
        least_reliable_alpha=None if worst is None else float(worst["alpha"]),
        most_lenient_n=None if top is None else int(top["n_candidates"]),
        most_lenient_interval=interval(top),
        most_lenient_small_n=bool(top is not None and top["min_n_warning"]),
        most_severe_n=None if bottom is None else int(bottom["n_candidates"]),
        most_severe_interval=interval(bottom),
        most_severe_small_n=bool(bottom is not None and bottom["min_n_warning"]),
        least_reliable_n=None if worst is None else int(worst["n_units"]),
        least_reliable_small_n=bool(worst is not None and worst["min_n_warning"]),
        raters_compared=compared,
        rule=rule,
        n_candidates=n_candidates,
    )


def data_version() -> tuple[object, ...]:
    """What the report depends on, cheaply: hiring scorecards, submission grade runs and the rubrics.

    A submitted scorecard, an amendment, a new or finished grade run, or a changed rubric file
    changes it, so a cached report is never read past a change.
    """
    submitted = case((Scorecard.status == ScorecardStatus.SUBMITTED, 1), else_=0)
    cards = db.session.execute(
        select(
            func.count(Scorecard.id), func.sum(submitted), func.max(Scorecard.id), func.max(Scorecard.submitted_at)
        ).where(Scorecard.purpose == ScorecardPurpose.HIRING)
    ).one()
    done = case((GradeRun.status == GradeStatus.DONE, 1), else_=0)
    runs = db.session.execute(
        select(func.count(GradeRun.id), func.sum(done), func.max(GradeRun.id), func.max(GradeRun.finished_at)).where(
            GradeRun.submission_id.is_not(None)
        )
    ).one()
    rubrics, _ = scorecards.rubric_library()
    return (
        tuple(str(v) for v in cards),
        tuple(str(v) for v in runs),
        tuple(sorted((slug, rubric.content_hash) for slug, rubric in rubrics.items())),
    )


def _report_cache() -> tuple[OrderedDict[tuple[object, ...], CalibrationView], threading.Lock]:
    # One per app (and process): each report is a few hundred kB of frames.
    return current_app.extensions.setdefault(_CACHE_KEY, (OrderedDict(), threading.Lock()))


def forget_reports() -> None:
    """Drop every cached report (the next view computes its own)."""
    reports, lock = _report_cache()
    with lock:
        reports.clear()


def build_calibration(filters: CalibrationFilters, *, n_boot: int = REPORT_BOOTSTRAP) -> CalibrationView:
    """The whole calibration report for the filters, computed once per data version.

    Bootstrapping takes most of a second per view; the cache is keyed by the filters and
    `data_version()`, so a submitted scorecard or a finished grade run makes the next view compute.
    """
    key = (filters, n_boot, data_version())
    reports, lock = _report_cache()
    with lock:
        if key in reports:
            reports.move_to_end(key)
            return reports[key]
    view = _compute_calibration(filters, n_boot)
    with lock:
        reports[key] = view
        while len(reports) > REPORT_CACHE_SIZE:
            reports.popitem(last=False)
    return view


def _compute_calibration(filters: CalibrationFilters, n_boot: int) -> CalibrationView:
    ratings, cards, evidence = hiring_frames(filters)
    auto_scores, part_dimensions = auto_grade_frames(filters)
    has_auto = len(auto_scores) > 0
    rubric = calibration_rubric(filters)
    report = calibration_report(
        ratings,
        cards,
        levels=rubric.level_values,
        recommendations=rubric.recommendation_ids,
        auto_scores=auto_scores if has_auto else None,
        part_dimensions=part_dimensions if has_auto else None,
        check_scores=auto_scores.rename(columns={"part": "check"}) if has_auto else None,
        n_boot=n_boot,
    )
    report = in_reading_order(report, [d.id for d in rubric.dimensions])
    n_candidates = int(ratings["candidate"].nunique())
    return CalibrationView(
        report,
        headlines(report, n_candidates),
        evidence,
        filters,
        links=_candidate_links(filters),
        figures=charts.report_figures(report, dimension_names()),
    )


def _candidate_links(filters: CalibrationFilters) -> dict[str, tuple[int, int | None]]:
    invitations = {s.invitation_id: s.invitation for s in _current_scorecards(filters)}
    newest = dict(
        db.session.execute(
            select(Submission.invitation_id, func.max(Submission.id))
            .where(Submission.invitation_id.in_(invitations))
            .group_by(Submission.invitation_id)
        ).all()
    )
    return {_candidate_label(inv): (inv.id, newest.get(inv.id)) for inv in invitations.values()}


@dataclass(frozen=True)
class AgendaItem:
    """One disagreement to discuss: the cell, and each rater's level with their evidence."""

    candidate: str
    dimension: str
    spread: float
    entries: list[tuple[str, int, str]]
    invitation_id: int | None = None
    submission_id: int | None = None


def agenda(view: CalibrationView) -> list[AgendaItem]:
    """The calibration-session agenda: the largest disagreements, with the evidence behind them."""
    items = []
    for row in view.report.disagreements.itertuples():
        entries = [
            (rater, int(level), view.evidence.get((row.candidate, rater, row.dimension), ""))
            for rater, level in zip(row.raters, row.ratings_given, strict=True)
        ]
        invitation_id, submission_id = view.links.get(row.candidate, (None, None))
        items.append(AgendaItem(row.candidate, row.dimension, float(row.range), entries, invitation_id, submission_id))
    return items


def view_from_ratings(ratings: pd.DataFrame, *, n_boot: int = REPORT_BOOTSTRAP) -> CalibrationView:
    """A report from imported ratings alone (no recommendations, evidence or auto-grades)."""
    empty = pd.DataFrame(columns=["candidate", "interviewer", "recommendation"])
    rubric = calibration_rubric(CalibrationFilters())
    report = calibration_report(
        ratings, empty, n_boot=n_boot, levels=rubric.level_values, recommendations=rubric.recommendation_ids
    )
    return CalibrationView(report, headlines(report, int(ratings["candidate"].nunique())), {}, CalibrationFilters())


def view_from_csv(
    source: Path | bytes | str,
    *,
    scale: str | None = None,
    alpha_level: str = "ordinal",
    n_boot: int = REPORT_BOOTSTRAP,
) -> CalibrationView:
    """A report from an exported ratings CSV (candidate,interviewer,dimension,rating; blank = missing).

    `source` is a path, or the file's bytes or text. `scale` is "MIN..MAX" (e.g. "1..5"); without
    it the scale is read from the data and the view's notes say so.

    :raises InvalidInput: naming the line and column that do not follow that format, or a scale
        that is not MIN..MAX.
    """
    try:
        imported = read_ratings_csv(source, scale=parse_scale(scale) if scale else None)
    except CalibrationInputError as error:
        raise InvalidInput(str(error)) from error
    empty = pd.DataFrame(columns=["candidate", "interviewer", "recommendation"])
    coded, rating_scale, notes = imported.coded(), imported.scale, imported.notes
    del imported  # the frame of names is not needed past here: a million scorecards' worth
    report = calibration_report(
        coded,
        empty,
        n_boot=n_boot,
        levels=rating_scale.levels,
        alpha_level=alpha_level,
    )
    name = source.name if isinstance(source, Path) else "an imported CSV"
    return CalibrationView(
        report,
        headlines(report, len(np.unique(coded.candidates))),
        {},
        CalibrationFilters(),
        source=f"{name} (ratings on the scale {rating_scale})",
        notes=notes,
    )


def interviewer_choices() -> list[tuple[str, str]]:
    """Interviewers who have submitted hiring scorecards: (email, name), by name.

    One query for the names alone: every page view builds the filter form, cached report or not.
    """
    query = (
        select(User.email, User.display_name)
        .join(Scorecard, Scorecard.interviewer_id == User.id)
        .where(Scorecard.purpose == ScorecardPurpose.HIRING, Scorecard.status == ScorecardStatus.SUBMITTED)
        .distinct()
    )
    return sorted(((email, name) for email, name in db.session.execute(query)), key=lambda item: item[1])


def dimension_names() -> dict[str, str]:
    """The default rubric's dimension names by id, for the report's tables."""
    return {d.id: d.name for d in scorecards.rubric_for().dimensions}
