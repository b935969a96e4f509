"""One order for every frame of a calibration report, so its charts and tables list rows alike."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from assessments.stats.ratings import OVERALL
from assessments.stats.report import CalibrationReport

ORDERED_FRAMES = ("alpha", "icc", "generalizability", "leniency", "rating_distribution", "recommendation_shares")


def in_reading_order(report: CalibrationReport, dimensions: list[str]) -> CalibrationReport:
    """The report with its frames sorted: interviewers most lenient first, then dimensions as the rubric lists them.

    The overall rows come before the dimensions; names the order does not know go last, in the
    order they came.
    """
    overall = report.leniency[report.leniency["dimension"] == OVERALL]
    interviewers = list(overall.sort_values("effect", ascending=False, na_position="last")["interviewer"])
    dimension_rank = {OVERALL: -1, **{d: i for i, d in enumerate(dimensions)}}
    interviewer_rank = {name: i for i, name in enumerate(interviewers)}

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        ranks = {}
        if "interviewer" in frame.columns:
            ranks["interviewer"] = frame["interviewer"].map(interviewer_rank).fillna(len(interviewer_rank))
        if "dimension" in frame.columns:
            ranks["dimension"] = frame["dimension"].map(dimension_rank).fillna(len(dimension_rank))
        if not ranks or frame.empty:
            return frame
        order = pd.DataFrame(ranks, index=frame.index).sort_values(list(ranks), kind="stable").index
        return frame.loc[order].reset_index(drop=True)

    frames = {name: ordered(getattr(report, name)) for name in ORDERED_FRAMES}
    return replace(report, **frames)
