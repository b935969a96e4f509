"""Calibration statistics: pure pandas/numpy/scipy; ratings frames in, frames out (no Flask/DB)."""

from assessments.stats.alpha import LEVELS, krippendorff_alpha
from assessments.stats.autograde import auto_grade_agreement, item_analysis
from assessments.stats.disagreement import top_disagreements
from assessments.stats.generalizability import g_study
from assessments.stats.icc import ICC_FORMS, complete_block, icc_by_dimension, shrout_fleiss_icc
from assessments.stats.leniency import (
    naive_leniency,
    rater_leniency,
    rating_distribution,
    recommendation_shares,
)
from assessments.stats.ratings import (
    DEFAULT_MIN_N,
    OVERALL,
    RECOMMENDATIONS,
    CalibrationInputError,
    CodedRatings,
    MinN,
    code_ratings,
)
from assessments.stats.report import CalibrationReport, calibration_report, report_to_json
from assessments.stats.simulation import simulate_panel, simulate_scorecards

__all__ = [
    "DEFAULT_MIN_N",
    "ICC_FORMS",
    "LEVELS",
    "OVERALL",
    "RECOMMENDATIONS",
    "CalibrationInputError",
    "CalibrationReport",
    "CodedRatings",
    "MinN",
    "auto_grade_agreement",
    "calibration_report",
    "code_ratings",
    "complete_block",
    "g_study",
    "icc_by_dimension",
    "item_analysis",
    "krippendorff_alpha",
    "naive_leniency",
    "rater_leniency",
    "rating_distribution",
    "recommendation_shares",
    "report_to_json",
    "shrout_fleiss_icc",
    "simulate_panel",
    "simulate_scorecards",
    "top_disagreements",
]
