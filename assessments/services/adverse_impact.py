"""The adverse impact report: stages, scoring rates and standardised differences from a frame of applications.

The frame (one row per application: `sex`, `race_ethnicity`, 0/1 stage columns, score columns) comes
from `services/fairness.py`, the one reader of self-identification, or from a CSV export; this module
never touches the database. Statistics are `stats/adverse_impact.py`'s.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from flask import render_template

from assessments.models.types import utcnow
from assessments.services import scorecards
from assessments.stats.adverse_impact import (
    RateTable,
    intersections,
    mean_differences,
    rate_table,
    scoring_rate_table,
)
from assessments.stats.selection_csv import is_score_column

BREAKDOWNS = (("sex", "Sex/gender"), ("race_ethnicity", "Race/ethnicity"), ("intersection", "Intersection"))
APP_STAGES = {
    "passed_auto_grade": "Passed the auto-grade threshold",
    "advanced": "Advanced after the debrief",
    "hired": "Hired (recorded outcomes)",
}
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


def _dimension_label(column: str) -> str:
    if column == "auto_grade":
        return "Auto-grade (share of points)"
    name = column.removesuffix("_score")
    try:
        return f"Scorecard: {scorecards.rubric_for().dimension(name).name}"
    except KeyError:
        return name.replace("_", " ").capitalize()


def build_report(
    frame: pd.DataFrame, *, source: str, threshold: float | None = None, exclude_small: bool = False
) -> AdverseImpactReport:
    """The adverse impact report of a frame shaped like `fairness.applicant_frame` or a selection export.

    `threshold` is the auto-grade share that passes, stated when the frame's `passed_auto_grade` used it.
    """
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
    return AdverseImpactReport(source, len(frame), exclude_small, tuple(stages), differences, threshold)


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
