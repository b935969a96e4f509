"""Holdout metrics for the predictions check, computed in the trusted process with numpy and scipy."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from assessments.grading.checks.base import MAX_STRING_CHARS, finite_float, is_number, normalise_text


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve: the Mann-Whitney U of the positives' scores over the number of pairs.

    Ties count half, as with the trapezoidal ROC curve. Needs both classes among the labels.
    """
    truth = np.asarray(labels) == 1
    ranks = rankdata(np.asarray(scores, dtype=float), method="average")
    positives = int(truth.sum())
    negatives = len(truth) - positives
    u_statistic = float(ranks[truth].sum()) - positives * (positives + 1) / 2
    return u_statistic / (positives * negatives)


def _same_class(label: Any, prediction: Any) -> bool:
    if isinstance(label, str):
        return isinstance(prediction, str) and normalise_text(prediction) == normalise_text(label)
    return is_number(prediction) and prediction == label


def _whole_number(value: Any) -> bool:
    number = finite_float(value)
    return number is not None and number.is_integer()


def accuracy(labels: Sequence[Any], predictions: Sequence[Any]) -> float:
    """Share of predictions equal to the label (numbers by value, class names ignoring case and spaces)."""
    return sum(_same_class(label, p) for label, p in zip(labels, predictions, strict=True)) / len(labels)


def rmse(labels: Sequence[float], predictions: Sequence[float]) -> float:
    """Root mean squared error."""
    errors = np.asarray(predictions, dtype=float) - np.asarray(labels, dtype=float)
    with np.errstate(over="ignore"):  # absurd predictions give an infinite error, which reaches no band
        return math.sqrt(float(np.mean(errors**2)))


@dataclass(frozen=True)
class Metric:
    """A holdout metric: its name in messages, its direction, and the kind of labels it scores.

    ``labels`` is "binary" (0/1 labels, score predictions), "classes" (class labels, predicted
    classes) or "numbers" (numeric labels, numeric predictions).
    """

    label: str
    higher_is_better: bool
    compute: Callable[[Sequence[Any], Sequence[Any]], float]
    labels: str

    @property
    def predictions_are(self) -> str:
        """What each prediction must be, for a message."""
        return "class labels (numbers or strings)" if self.labels == "classes" else "finite numbers"

    def accepts(self, prediction: Any) -> bool:
        """Whether one untrusted prediction is of the kind this metric scores."""
        if self.labels == "classes":
            return (isinstance(prediction, str) and len(prediction) <= MAX_STRING_CHARS) or is_number(prediction)
        return finite_float(prediction) is not None

    def label_problem(self, labels: Sequence[Any]) -> str | None:
        """Why these key labels do not fit the metric (None when they do)."""
        if self.labels == "binary":
            if not all(is_number(label) and label in (0, 1) for label in labels):
                return "labels must be 0 or 1"
            if len(set(labels)) < 2:
                return "labels must hold both classes"
        elif self.labels == "classes":
            if not all(isinstance(label, str) or _whole_number(label) for label in labels):
                return "labels must be class names (strings) or integers"
        elif not all(finite_float(label) is not None for label in labels):
            return "labels must be finite numbers"
        return None


METRICS: dict[str, Metric] = {
    "roc_auc": Metric("ROC AUC", True, roc_auc, "binary"),
    "accuracy": Metric("accuracy", True, accuracy, "classes"),
    "rmse": Metric("RMSE", False, rmse, "numbers"),
}
