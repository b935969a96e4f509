"""Reading a long-format ratings CSV exported from an applicant tracking system."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd

from assessments.stats.ratings import CalibrationInputError

REQUIRED_COLUMNS = ("candidate", "interviewer", "dimension", "rating")
MAX_ROWS = 2_000_000


def read_ratings_csv(text: str) -> pd.DataFrame:
    """Parse `candidate,interviewer,dimension,rating` rows (rating an integer or blank).

    :raises CalibrationInputError: naming the line of the first problems found (missing columns,
        blank identifiers, non-integer ratings, duplicate rows).
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CalibrationInputError("The CSV is empty; expected a header line.") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CalibrationInputError(
            f"Line 1: the header lacks the column(s) {', '.join(missing)}; "
            f"expected {','.join(REQUIRED_COLUMNS)}."
        )
    index = {c: header.index(c) for c in REQUIRED_COLUMNS}
    problems: list[str] = []
    seen: dict[tuple[str, str, str], int] = {}
    rows: list[tuple[str, str, str, float]] = []
    for line, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(rows) >= MAX_ROWS:
            raise CalibrationInputError(f"Line {line}: more than {MAX_ROWS:,} rows.")
        if len(record) < len(header):
            problems.append(f"Line {line}: expected {len(header)} fields, found {len(record)}.")
            continue
        candidate, interviewer, dimension, raw = (record[index[c]].strip() for c in REQUIRED_COLUMNS)
        if not (candidate and interviewer and dimension):
            problems.append(f"Line {line}: candidate, interviewer and dimension must not be blank.")
            continue
        if raw == "":
            rating = np.nan
        else:
            try:
                rating = float(int(raw))
            except ValueError:
                problems.append(f"Line {line}: rating {raw[:20]!r} is not an integer (leave it blank if missing).")
                continue
        key = (candidate, interviewer, dimension)
        if key in seen:
            problems.append(
                f"Line {line}: duplicate of line {seen[key]} (same candidate, interviewer and dimension)."
            )
            continue
        seen[key] = line
        rows.append((candidate, interviewer, dimension, rating))
        if len(problems) >= 20:
            break
    if problems:
        raise CalibrationInputError("\n".join(problems))
    return pd.DataFrame(rows, columns=list(REQUIRED_COLUMNS))
