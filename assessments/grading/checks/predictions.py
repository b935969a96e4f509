"""The predictions check kind: the candidate's predictions for a holdout, scored by a metric in bands.

The holdout's features are in the candidate's bundle; its labels come from the generator's
``hidden`` frames, stay in the trusted process and are the key: ``{"ids": [...], "labels": [...]}``
(ids as text, in the holdout file's row order). Messages give the metric value and the band reached,
never a label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assessments.grading.checks.base import (
    MAX_STRING_CHARS,
    BaseCheck,
    CheckOutcome,
    describe,
    finite_float,
    invalid,
    outcome,
)
from assessments.grading.checks.metrics import METRICS, Metric

# The sandbox reads at most 10,000 items of a list or dict (runner/answers.py).
MAX_HOLDOUT_ROWS = 10_000


def _bands_problems(bands: Any, metric: Metric | None) -> list[str]:
    shape = "bands must be a non-empty list of [threshold, fraction of the points] pairs, best first"
    if not isinstance(bands, (list, tuple)) or not bands:
        return [shape]
    pairs = []
    for band in bands:
        if not isinstance(band, (list, tuple)) or len(band) != 2:
            return [shape]
        threshold, fraction = finite_float(band[0]), finite_float(band[1])
        if threshold is None or fraction is None or not 0 < fraction <= 1:
            return [f"each band needs a finite threshold and a fraction in (0, 1], got {list(band)!r}"]
        pairs.append((threshold, fraction))
    problems = []
    if any(later[1] >= earlier[1] for earlier, later in zip(pairs, pairs[1:], strict=False)):
        problems.append("band fractions must decrease from the first band to the last")
    if metric is not None:
        sign = 1 if metric.higher_is_better else -1
        if any(sign * (earlier[0] - later[0]) <= 0 for earlier, later in zip(pairs, pairs[1:], strict=False)):
            direction = "decrease" if metric.higher_is_better else "increase"
            problems.append(f"band thresholds must {direction} from the first band to the last (best first)")
    return problems


def _reached(value: float, metric: Metric, bands: list[list[float]]) -> tuple[float, float | None]:
    """(fraction of the points, threshold of the band reached or None)."""
    for threshold, fraction in bands:
        if (value >= threshold) if metric.higher_is_better else (value <= threshold):
            return float(fraction), float(threshold)
    return 0.0, None


def _aligned(value: Any, ids: list[str]) -> tuple[list[Any] | None, str]:
    """The predictions in holdout order, or None and why they cannot be aligned with the holdout rows."""
    n = len(ids)
    if isinstance(value, list):
        if len(value) != n:
            return None, f"Expected {n} predictions, one per row of the holdout file in its order; got {len(value)}."
        return value, ""
    if isinstance(value, dict):
        if not all(isinstance(key, str) and len(key) <= MAX_STRING_CHARS for key in value):
            return None, "Expected the keys of your dict to be the holdout's ids."
        missing = sum(1 for key in ids if key not in value)
        unknown = len(value) - (n - missing)
        if missing or unknown:
            return None, (
                f"Expected a dict keyed by the holdout's {n} ids: {missing} of them are missing and "
                f"{unknown} of your keys are not holdout ids."
            )
        return [value[key] for key in ids], ""
    return None, (
        f"Expected a list of {n} predictions in the holdout file's row order, or a dict id -> prediction "
        f"(a pandas Series works too); got {describe(value)}."
    )


class PredictionsCheck(BaseCheck):
    """Predictions for a holdout whose labels never leave the grader: points by the band the metric reaches."""

    kind = "predictions"
    allowed_params = frozenset({"metric", "bands"})
    expects = "a list (or dict id -> value) of predictions for the holdout rows"

    @classmethod
    def param_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """``metric`` (roc_auc, accuracy or rmse) and ``bands`` are required; bands are listed best first."""
        problems = super().param_problems(params)
        metric = METRICS.get(params.get("metric")) if isinstance(params.get("metric"), str) else None
        if metric is None:
            problems.append(f"predictions check needs 'metric': one of {', '.join(sorted(METRICS))}")
        if "bands" not in params:
            problems.append("predictions check needs 'bands': [[threshold, fraction], ...], best first")
        else:
            problems += _bands_problems(params["bands"], metric)
        return problems

    @classmethod
    def key_problems(cls, expected: Any, params: Mapping[str, Any]) -> list[str]:
        """The key must be the holdout's distinct text ids and one label per id, fitting the metric."""
        if not isinstance(expected, Mapping) or set(expected) != {"ids", "labels"}:
            return ["predictions key must be a dict with exactly 'ids' and 'labels'"]
        ids, labels = expected["ids"], expected["labels"]
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_HOLDOUT_ROWS:
            return [f"predictions key 'ids' must be a list of 1 to {MAX_HOLDOUT_ROWS} ids"]
        if not all(isinstance(i, str) and 0 < len(i) <= 100 for i in ids) or len(set(ids)) != len(ids):
            return ["predictions key 'ids' must be distinct non-empty strings"]
        if not isinstance(labels, list) or len(labels) != len(ids):
            return ["predictions key 'labels' must be a list with one label per id"]
        problem = METRICS[params["metric"]].label_problem(labels) if params.get("metric") in METRICS else None
        return [f"predictions key: {problem}"] if problem else []

    @classmethod
    def shown_key(cls, expected: Any, params: Mapping[str, Any]) -> Any:
        """A summary: the holdout labels are long and not meant to be read."""
        metric = METRICS[params["metric"]]
        return f"the labels of the {len(expected['ids'])} holdout rows (kept by the grader; scored by {metric.label})"

    @classmethod
    def _score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        metric: Metric = METRICS[params["metric"]]
        bands = [list(band) for band in params["bands"]]
        predictions, reason = _aligned(value, expected["ids"])
        if predictions is None:
            return invalid(points, reason)
        rejected = [index for index, p in enumerate(predictions) if not metric.accepts(p)]
        if rejected:
            return invalid(
                points,
                f"{len(rejected)} of your {len(predictions)} predictions are not "
                f"{metric.predictions_are} (the first is row {rejected[0] + 1} of the holdout).",
            )
        achieved = metric.compute(expected["labels"], predictions)
        fraction, threshold = _reached(achieved, metric, bands)
        sign = "≥" if metric.higher_is_better else "≤"
        listed = ", ".join(f"{sign} {t:g}: {f:.0%}" for t, f in bands)
        words = (
            f"Scored your {len(predictions)} predictions by {metric.label} against the holdout's labels (which "
            f"are not in your files): {achieved:.3f}. Bands ({listed} of the points): "
        )
        if threshold is None:
            words += "below the last band, no points."
        else:
            words += f"reaches {sign} {threshold:g}, {fraction:.0%} of the points."
        return outcome(points, fraction, words)
