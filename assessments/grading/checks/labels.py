"""The labels check kind: a set of flagged items, with partial credit and a penalty per false flag.

With a ``catalogue`` the items are cell flags, ``"C<n>:<defect-id>"`` (a review exercise): each is
read leniently (``"c7 : Random split on time"``, ``"cell 7 - random_split_on_time"`` and
``"[C7]:random-split-on-time"`` are one flag), a flag that cannot be read is reported by name instead
of silently matching nothing, and the score is recall minus the false-flag rate over the catalogue's
absent ids (informedness), so flagging every step, or random flags, earns nothing on average.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from assessments.grading.checks.base import (
    MAX_LIST_ITEMS,
    MAX_STRING_CHARS,
    BaseCheck,
    CheckOutcome,
    describe,
    finite_float,
    invalid,
    normalise_text,
    outcome,
)

# A cell label ("C7", "c7", "cell 7", "[C7]", "7"), a separator (":", "-", "=", "->", a dash or
# spaces) and a defect id. Ids are words joined by hyphens, spaces or underscores.
_CELL_FLAG = re.compile(
    r"^\[?\s*(?:cell|c)?\s*#?\s*(\d{1,4})\s*\]?\s*(?:[:=;,|/>]|->|-|\u2013|\u2014)?\s*([a-z][a-z0-9 _\-]*?)[\s.]*$"
)
_QUOTES = "\"'`\u2018\u2019\u201c\u201d"


def parse_cell_flag(text: str) -> tuple[str, str] | None:
    """A cell flag as (label, defect id), e.g. ("C7", "random-split-on-time"), or None when unreadable."""
    match = _CELL_FLAG.match(normalise_text(text).strip(_QUOTES).strip())
    if match is None:
        return None
    defect = re.sub(r"[\s_\-]+", "-", match.group(2)).strip("-")
    return (f"C{int(match.group(1))}", defect) if defect else None


def _label_set(value: Any) -> tuple[set[str] | None, str]:
    """Normalised labels from an untrusted list, or None and the reason it is not one."""
    items, reason = _strings(value)
    if items is None:
        return None, reason
    return {normalise_text(item) for item in items if item.strip()}, ""


def _strings(value: Any) -> tuple[list[str] | None, str]:
    if not isinstance(value, list):
        return None, f"Expected a list of strings; got {describe(value)}."
    if len(value) > MAX_LIST_ITEMS:
        return None, f"Expected a list of at most {MAX_LIST_ITEMS} labels; got {len(value)}."
    if not all(isinstance(item, str) and len(item) <= MAX_STRING_CHARS for item in value):
        return None, "Expected every item of the list to be a string (a label)."
    return value, ""


def _cell_flags(items: Sequence[str]) -> tuple[set[tuple[str, str]], list[str]]:
    """The readable flags of a list, and the items that could not be read (blank items are skipped)."""
    flags, unreadable = set(), []
    for item in items:
        if not item.strip():
            continue
        flag = parse_cell_flag(item)
        if flag is None:
            unreadable.append(item)
        else:
            flags.add(flag)
    return flags, unreadable


def _list_of(items: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(describe(item) for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


class LabelsCheck(BaseCheck):
    """A set of flagged items: credit by share of the key's items found, minus a penalty per false flag."""

    kind = "labels"
    allowed_params = frozenset({"false_flag_penalty", "catalogue"})
    expects = "a list of strings"

    @classmethod
    def param_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """``false_flag_penalty`` must be a finite number >= 0; ``catalogue`` a non-empty list of ids."""
        problems = super().param_problems(params)
        if "false_flag_penalty" in params:
            penalty = finite_float(params["false_flag_penalty"])
            if penalty is None or penalty < 0:
                problems.append(
                    f"false_flag_penalty must be a finite number >= 0, got {params['false_flag_penalty']!r}"
                )
        if "catalogue" in params:
            catalogue = params["catalogue"]
            if not isinstance(catalogue, list) or not catalogue or not all(isinstance(i, str) for i in catalogue):
                problems.append("catalogue must be a non-empty list of defect ids")
            elif any(parse_cell_flag(f"C1:{i}") != ("C1", i) for i in catalogue):
                problems.append("catalogue ids must be lower-case words joined by hyphens, e.g. 'target-leakage'")
            if "false_flag_penalty" in params:
                problems.append("a catalogue scores false flags by their rate; drop false_flag_penalty")
        return problems

    @classmethod
    def key_problems(cls, expected: Any, params: Mapping[str, Any]) -> list[str]:
        """The key must be a list of strings (of cell flags naming catalogue ids, with a catalogue)."""
        labels, reason = _label_set(expected)
        if labels is None:
            return [f"labels key: {reason}"]
        if "catalogue" not in params:
            return []
        flags, unreadable = _cell_flags(expected)
        unknown = sorted(defect for _, defect in flags if defect not in params["catalogue"])
        if unreadable or unknown:
            return [f"labels key: flags that are not 'C<n>:<catalogue id>': {_list_of(unreadable + unknown)}"]
        return []

    @classmethod
    def _score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        if "catalogue" in params:
            return cls._score_cell_flags(value, expected, list(params["catalogue"]), points)
        flagged, reason = _label_set(value)
        if flagged is None:
            return invalid(points, reason)
        planted, _ = _label_set(expected)
        assert planted is not None
        penalty = float(params.get("false_flag_penalty", 0.5))
        found = flagged & planted
        false_flags = flagged - planted
        if planted:
            fraction = (len(found) - penalty * len(false_flags)) / len(planted)
        else:
            fraction = 1.0 - penalty * len(false_flags)
        words = [f"Checked your {len(flagged)} distinct label(s) against the planted items (case-insensitive)"]
        words.append(f"{len(found)} matched")
        if false_flags:
            words.append(f"{len(false_flags)} matched nothing planted (each costs {penalty:g} of one item)")
        if planted - flagged:
            words.append("some planted items were not flagged")
        return outcome(points, fraction, "; ".join(words) + ".")

    @classmethod
    def _score_cell_flags(cls, value: Any, expected: Any, catalogue: list[str], points: float) -> CheckOutcome:
        """Recall minus the false-flag rate: found / planted - false flags / catalogue ids not planted."""
        items, reason = _strings(value)
        if items is None:
            return invalid(points, reason)
        flagged, unreadable = _cell_flags(items)
        planted, _ = _cell_flags(expected)
        found, false_flags = flagged & planted, flagged - planted
        absent = len(set(catalogue) - {defect for _, defect in planted})
        recall = len(found) / len(planted) if planted else 1.0
        false_rate = min(1.0, len(false_flags) / absent) if absent else float(bool(false_flags))
        words = [
            f"Read {len(flagged)} distinct flag(s) (case, spaces and the label's form do not matter): "
            f"{len(found)} of the {len(planted)} planted defect(s) found, {len(false_flags)} false flag(s)"
        ]
        if false_flags:
            words.append(
                f"the score is the share of planted defects found minus the share of the {absent} "
                "catalogue defects not in your notebook that you flagged"
            )
        unknown = sorted({defect for _, defect in flagged if defect not in catalogue})
        if unknown:
            words.append(f"not ids of the catalogue (counted as false flags): {_list_of(unknown)}")
        if unreadable:
            words.append(
                f'could not read {len(unreadable)} item(s) as "C<n>:<defect-id>", so they were not scored: '
                + _list_of(unreadable)
            )
        return outcome(points, recall - false_rate, "; ".join(words) + ".")
