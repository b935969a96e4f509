"""Reading a selection export (an ATS's, or this app's own): categories, 0/1 stages and scores per person.

Columns: `candidate`, `sex`, `race_ethnicity`, then one 0/1 column per stage (for example `advanced`,
`hired`) and optional numeric score columns (`auto_grade`, or any name ending in `_score`). An empty
category cell, or the declining answer, is an unknown category; an empty stage or score cell means
the person did not reach that point. Every problem is named by line and column.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass

import pandas as pd

REQUIRED = ("candidate", "sex", "race_ethnicity")
MAX_ROWS = 200_000
MAX_PROBLEMS = 50
_SCORE = re.compile(r"^(auto_grade|.+_score)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class CsvProblem:
    """One thing wrong with the file: the line (1 is the header), the column and what."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class SelectionCsvError(ValueError):
    """Raised when a selection export cannot be read; `.problems` names each bad line."""

    def __init__(self, problems: list[CsvProblem]) -> None:
        self.problems = problems[:MAX_PROBLEMS]
        more = len(problems) - len(self.problems)
        listed = "; ".join(str(p) for p in self.problems)
        super().__init__(listed + (f"; and {more} more" if more > 0 else ""))


def is_score_column(name: str) -> bool:
    """Score columns hold numbers (`auto_grade`, `*_score`); every other extra column is a 0/1 stage."""
    return bool(_SCORE.match(name))


def read_selection_csv(text: str, *, decline: str = "Prefer not to say") -> pd.DataFrame:
    """Parse the export into a frame: categories (None when unknown), stages as 0/1/NaN, scores as floats.

    `frame.attrs["lines"]` holds each row's line in the file, for messages about its values.

    :raises SelectionCsvError: naming every bad line (up to 50): missing columns, a stage that is
        not 0 or 1, a score that is not a finite number, a repeated or empty candidate.
    """
    text = text.removeprefix("\ufeff")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [h.strip().lower() for h in next(reader, [])]
    problems = [CsvProblem(1, name, "this column is missing") for name in REQUIRED if name not in header]
    problems += [
        CsvProblem(1, name, "a column name is lower-case letters, digits and _ (at most 40)")
        for name in header
        if not _NAME.match(name)
    ]
    if len(set(header)) != len(header):
        problems.append(CsvProblem(1, "", "a column name appears twice"))
    if problems:
        raise SelectionCsvError(problems)
    extra = [h for h in header if h not in REQUIRED]
    rows, lines, seen = [], [], {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            problems.append(CsvProblem(line, "", f"more than {MAX_ROWS:,} rows"))
            break
        if len(cells) != len(header):
            problems.append(CsvProblem(line, "", f"{len(cells)} cells where the header has {len(header)}"))
            continue
        record = dict(zip(header, (c.strip() for c in cells), strict=True))
        who = record["candidate"]
        if not who:
            problems.append(CsvProblem(line, "candidate", "empty"))
        elif who in seen:
            problems.append(CsvProblem(line, "candidate", f"{who!r} is also on line {seen[who]}"))
        seen.setdefault(who, line)
        row: dict[str, object] = {"candidate": who}
        for name in ("sex", "race_ethnicity"):
            value = record[name]
            row[name] = None if not value or value.casefold() == decline.casefold() else value[:80]
        for name in extra:
            value = record[name]
            if not value:
                row[name] = math.nan
            elif is_score_column(name):
                try:
                    number = float(value)
                except ValueError:
                    number = math.nan
                if not math.isfinite(number):
                    problems.append(CsvProblem(line, name, f"{value[:20]!r} is not a number"))
                row[name] = number
            elif value in ("0", "1"):
                row[name] = float(value)
            else:
                problems.append(CsvProblem(line, name, f"{value[:20]!r}: a stage is 0 or 1 (empty: not reached)"))
        rows.append(row)
        lines.append(line)
    if problems:
        raise SelectionCsvError(problems)
    frame = pd.DataFrame(rows, columns=["candidate", "sex", "race_ethnicity", *extra])
    frame.attrs["lines"] = lines
    return frame
