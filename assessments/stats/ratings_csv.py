"""Reading a long-format ratings CSV exported from an applicant tracking system.

The text is parsed by pandas' C parser in chunks of rows (no Python per row; memory is the
chunk plus compact integer codes, with no row limit). Each column's *distinct* values are then
checked and normalised once, so a million rows with a hundred interviewers cost a hundred
normalisations. Problems are reported by line and column, up to `MAX_PROBLEMS` of them.

Line numbers count physical lines; a quoted field that spans lines would shift the numbers after
it (ATS exports do not write such fields for these columns).
"""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from assessments.stats.ratings import (
    RATING_LEVELS,
    CalibrationInputError,
    CodedRatings,
    coded_from_codes,
)

REQUIRED_COLUMNS = ("candidate", "interviewer", "dimension", "rating")
IDENTIFIER_COLUMNS = REQUIRED_COLUMNS[:3]
CHUNK_ROWS = 200_000  # rows parsed at once: their strings are the reader's largest transient
MAX_PROBLEMS = 20
MAX_LEVELS = 101
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_BYTES = 64 * 1024
_SCALE = re.compile(r"^\s*(-?\d+)\s*(?:\.\.|–|-|:)\s*(-?\d+)\s*$")
_WHITESPACE = re.compile(r"\s+")
_FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


@dataclass(frozen=True)
class RatingScale:
    """The whole-number rating scale MIN..MAX; `from_data` when it was read off the ratings."""

    low: int
    high: int
    from_data: bool = False

    @property
    def levels(self) -> tuple[int, ...]:
        """Every allowed rating, lowest first."""
        return tuple(range(self.low, self.high + 1))

    def __str__(self) -> str:
        return f"{self.low}..{self.high}"


DEFAULT_SCALE = RatingScale(RATING_LEVELS[0], RATING_LEVELS[-1])


def parse_scale(text: str) -> RatingScale:
    """`"1..5"` -> RatingScale(1, 5).

    :raises CalibrationInputError: the text is not MIN..MAX with whole numbers MIN < MAX, or the
        scale has more than MAX_LEVELS levels.
    """
    match = _SCALE.match(text or "")
    if not match:
        raise CalibrationInputError(f"The scale must be written MIN..MAX with whole numbers, e.g. 1..5; got {text!r}.")
    low, high = int(match.group(1)), int(match.group(2))
    if low >= high:
        raise CalibrationInputError(f"The scale {text!r} must go from a lower to a higher number.")
    if high - low + 1 > MAX_LEVELS:
        raise CalibrationInputError(
            f"The scale {text!r} has {high - low + 1} levels; at most {MAX_LEVELS} are supported."
        )
    return RatingScale(low, high)


@dataclass(frozen=True)
class ImportedRatings:
    """A ratings frame read from a CSV, the scale it was checked against, and what was assumed."""

    ratings: pd.DataFrame
    scale: RatingScale
    notes: tuple[str, ...]

    def coded(self) -> CodedRatings:
        """The ratings as integer codes for the statistics, without re-checking what the reader
        checked by line (duplicates, the scale): at a million scorecards that pass costs seconds.
        """
        columns = {name: self.ratings[name].cat for name in IDENTIFIER_COLUMNS}
        return coded_from_codes(
            columns["candidate"].codes.to_numpy(),
            columns["candidate"].categories.to_numpy(),
            columns["interviewer"].codes.to_numpy(),
            columns["interviewer"].categories.to_numpy(),
            columns["dimension"].codes.to_numpy(),
            columns["dimension"].categories.to_numpy(),
            self.ratings["rating"].to_numpy(np.float64),
            self.scale.levels,
        )


class _Problems:
    """Problems found so far, by line; only the first MAX_PROBLEMS are kept, all are counted."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []
        self.count = 0

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.found) < MAX_PROBLEMS:
            self.found.append((line, message))

    def raise_if_any(self) -> None:
        if not self.count:
            return
        lines = [message for _, message in sorted(self.found, key=lambda item: item[0])]
        if self.count > len(self.found):
            lines.append(f"... and {self.count - len(self.found)} more problem(s).")
        raise CalibrationInputError("\n".join(lines))


def matching_key(name: str) -> str:
    """How names are matched: Unicode NFC, inner whitespace collapsed, case-folded."""
    collapsed = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", name)).strip()
    return unicodedata.normalize("NFC", collapsed.casefold())


def _shown(name: str) -> str:
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", name)).strip()


class _Names:
    """One identifier column's names across chunks: matching key -> code, and the name first seen."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.codes: dict[str, int] = {}
        self.shown: list[str] = []
        self.merged: list[tuple[str, str]] = []

    def code(self, values: np.ndarray) -> np.ndarray:
        """Global codes for a chunk's raw strings; -1 where the name is blank."""
        local, uniques = pd.factorize(values)
        mapping = np.empty(len(uniques), dtype=np.int64)
        for position, raw in enumerate(uniques):
            key = matching_key(raw)
            if not key:
                mapping[position] = -1
                continue
            code = self.codes.get(key)
            if code is None:
                code = self.codes[key] = len(self.shown)
                self.shown.append(_shown(raw))
            elif _shown(raw) != self.shown[code] and len(self.merged) < 5:
                pair = (self.shown[code], _shown(raw))
                if pair not in self.merged:
                    self.merged.append(pair)
            mapping[position] = code
        return mapping[local]

    def categorical(self, codes: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=pd.Index(self.shown, dtype=object))


def _parse_rating(raw: str) -> float | str:
    """A rating string as a number (NaN when blank), or a message saying what is wrong."""
    text = raw.strip()
    if text == "":
        return np.nan
    try:
        return float(int(text))
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return f"{text[:20]!r} is not a number (leave it blank if not assessed)"
    if not np.isfinite(value) or value != round(value):
        return f"{text[:20]!r} is not a whole number"
    return float(value)


def _sniff_encoding(head: bytes) -> tuple[str, str | None]:
    """The codec to read with, and a note when it is not plain UTF-8."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", None
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "read as UTF-16 (byte-order mark found)"
    sample = head[:2048]
    if sample and sample.count(0) > len(sample) // 4:
        # ASCII text in UTF-16 without a byte-order mark: every other byte is zero
        zeros_odd = sample[1::2].count(0)
        encoding = "utf-16-le" if zeros_odd > sample[0::2].count(0) else "utf-16-be"
        return encoding, f"read as {encoding.upper()} (no byte-order mark; zero bytes found)"
    return "utf-8", None


def _split_header(line: str, delimiter: str) -> list[str]:
    return [cell.strip().strip('"').strip().lstrip("\ufeff").casefold() for cell in line.split(delimiter)]


def _sniff_delimiter(first_line: str) -> tuple[str, list[str]]:
    """The delimiter whose split header holds every required column (else the commonest)."""
    for delimiter in DELIMITERS:
        header = _split_header(first_line, delimiter)
        if all(column in header for column in REQUIRED_COLUMNS):
            return delimiter, header
    common = max(DELIMITERS, key=first_line.count)
    return common, _split_header(first_line, common)


def _first_bad_utf8_line(path: Path | None, data: bytes | None, encoding: str) -> str:
    """Say where a file stops decoding: the line and the byte."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line, offset = 1, 0
    blocks: Iterator[bytes]
    if data is not None:
        blocks = iter([data])
    else:
        assert path is not None
        blocks = _blocks(path)
    for block in blocks:
        try:
            text = decoder.decode(block)
        except UnicodeDecodeError as error:
            good = block[: error.start]
            line += good.count(b"\n")
            byte = block[error.start]
            return (
                f"Line {line} is not {encoding.upper().replace('-SIG', '')} text (byte 0x{byte:02x} "
                f"at byte {offset + error.start + 1} of the file). Save the file as UTF-8 "
                "(or UTF-16) and try again."
            )
        line += text.count("\n")
        offset += len(block)
    return f"The file is not {encoding.upper()} text. Save it as UTF-8 and try again."


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            yield block


def read_ratings_csv(
    source: str | bytes | PathLike[str],
    *,
    scale: RatingScale | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ImportedRatings:
    """Parse `candidate,interviewer,dimension,rating` rows (rating a whole number, or blank).

    `source` is a path, the file's bytes, or its text. Columns may come in any order and case,
    and other columns are ignored; the delimiter (comma, semicolon, tab, pipe) and the encoding
    (UTF-8 with or without a byte-order mark, UTF-16) are detected and named in `notes`. Names
    are matched ignoring case, Unicode form and repeated spaces, and shown as first written.
    Without `scale` the scale is read from the data (lowest..highest rating) and a note says so.

    :raises CalibrationInputError: naming the line and column of the first problems found (a
        missing column, a blank name, a rating that is not a whole number or is off the scale, a
        duplicate row, a line with too many fields, text that is not UTF-8 or UTF-16).
    """
    path: Path | None = None
    data: bytes | None = None
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, str):
        data = source.encode("utf-8")
    else:
        path = Path(source)
    if data is not None:
        head = data[:_SNIFF_BYTES]
    else:
        assert path is not None
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    notes: list[str] = []
    encoding, encoding_note = _sniff_encoding(head)
    if encoding_note:
        notes.append(encoding_note)
    first_line = head.decode(encoding, errors="replace").splitlines()[0] if head.strip() else ""
    if not first_line.strip():
        raise CalibrationInputError(f"The CSV is empty; expected a header line {','.join(REQUIRED_COLUMNS)}.")
    delimiter, header = _sniff_delimiter(first_line)
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise CalibrationInputError(
            f"Line 1: the header lacks the column(s) {', '.join(missing)}; found "
            f"{', '.join(repr(h) for h in header[:8])} ({DELIMITERS.get(delimiter, delimiter)}-"
            f"separated). Expected {','.join(REQUIRED_COLUMNS)}."
        )
    if delimiter != ",":
        notes.append(f"read as {DELIMITERS[delimiter]}-separated")
    positions = [header.index(column) for column in REQUIRED_COLUMNS]

    names = {column: _Names(column) for column in IDENTIFIER_COLUMNS}
    rating_values: dict[str, float | str] = {}
    problems = _Problems()
    parts: dict[str, list[np.ndarray]] = {key: [] for key in (*IDENTIFIER_COLUMNS, "rating", "line")}
    try:
        reader = pd.read_csv(
            path if path is not None else io.BytesIO(data or b""),
            sep=delimiter,
            header=None,
            skiprows=1,
            dtype=str,
            na_filter=False,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding=encoding,
            chunksize=chunk_rows,
            engine="c",
        )
        first_row = 0
        for chunk in reader:
            lines = np.arange(first_row, first_row + len(chunk), dtype=np.int64) + 2
            first_row += len(chunk)
            _code_chunk(chunk, len(header), delimiter, positions, lines, names, rating_values, problems, parts)
    except pd.errors.EmptyDataError:
        pass  # a header and no rows: an empty report
    except UnicodeDecodeError:
        raise CalibrationInputError(_first_bad_utf8_line(path, data, encoding)) from None
    except pd.errors.ParserError as error:
        found = _FIELD_COUNT.search(str(error))
        if found:
            expected, line, saw = found.groups()
            problems.add(
                int(line),
                f"Line {line}: expected {expected} fields "
                f"({DELIMITERS[delimiter]}-separated), found {saw}; is a name holding "
                "the delimiter without quotes?",
            )
            problems.raise_if_any()
        raise CalibrationInputError(f"The CSV could not be parsed: {error}") from None

    # one column at a time, dropping its chunks as it goes: peak memory stays near one copy
    codes = {}
    for key in list(parts):
        chunks = parts.pop(key)
        codes[key] = np.concatenate(chunks) if chunks else np.empty(0, np.int32)
        del chunks
    rating = codes.pop("rating").astype(np.float64)
    scale = _check_scale(scale, rating, codes["line"], positions[3] + 1, problems, notes)
    _check_duplicates(codes, names, problems)
    problems.raise_if_any()
    for column in IDENTIFIER_COLUMNS:
        if names[column].merged:
            shown = "; ".join(f"{a!r} = {b!r}" for a, b in names[column].merged)
            notes.append(f"{column} names matched ignoring case and Unicode form: {shown}")
    frame = pd.DataFrame({column: names[column].categorical(codes[column]) for column in IDENTIFIER_COLUMNS})
    frame["rating"] = rating
    return ImportedRatings(frame, scale, tuple(notes))


def _code_chunk(
    chunk: pd.DataFrame,
    n_fields: int,
    delimiter: str,
    positions: list[int],
    lines: np.ndarray,
    names: dict[str, _Names],
    rating_values: dict[str, float | str],
    problems: _Problems,
    parts: dict[str, list[np.ndarray]],
) -> None:
    """Code one chunk of rows into `parts`, noting problems by line and column."""
    if chunk.shape[1] > n_fields:
        # pandas sizes rows by the first data line: fields past the header's are an error
        extra = (chunk.iloc[:, n_fields:].to_numpy(dtype=object) != "").any(axis=1)
        for row in np.flatnonzero(extra)[:MAX_PROBLEMS]:
            problems.add(
                int(lines[row]),
                f"Line {lines[row]}: expected {n_fields} fields "
                f"({DELIMITERS[delimiter]}-separated, as the header), found more; is "
                "a name holding the delimiter without quotes?",
            )
        problems.count += max(0, int(extra.sum()) - MAX_PROBLEMS)
    raw = {
        column: chunk.iloc[:, position].to_numpy(dtype=object)
        for column, position in zip(REQUIRED_COLUMNS, positions, strict=True)
    }
    local, uniques = pd.factorize(raw["rating"])
    parsed = np.empty(len(uniques), dtype=np.float64)
    bad = np.zeros(len(uniques), dtype=bool)
    for position, text in enumerate(uniques):
        value = rating_values.get(text)
        if value is None:
            value = rating_values[text] = _parse_rating(text)
        if isinstance(value, str):
            bad[position], parsed[position] = True, np.nan
        else:
            parsed[position] = value
    rating = parsed[local]
    coded = {column: names[column].code(raw[column]) for column in IDENTIFIER_COLUMNS}
    blank_name = np.zeros(len(chunk), dtype=bool)
    for column in IDENTIFIER_COLUMNS:
        blank_name |= coded[column] < 0
    empty_line = blank_name & np.isnan(rating) & ~bad[local]
    for column in IDENTIFIER_COLUMNS:
        empty_line &= coded[column] < 0
    for row in np.flatnonzero(bad[local] & ~empty_line)[:MAX_PROBLEMS]:
        problems.add(
            int(lines[row]),
            f"Line {lines[row]}, column {positions[3] + 1} (rating): {rating_values[uniques[local[row]]]}.",
        )
    problems.count += max(0, int((bad[local] & ~empty_line).sum()) - MAX_PROBLEMS)
    for column, position in zip(IDENTIFIER_COLUMNS, positions, strict=False):
        blank = (coded[column] < 0) & ~empty_line
        for row in np.flatnonzero(blank)[:MAX_PROBLEMS]:
            problems.add(
                int(lines[row]),
                f"Line {lines[row]}, column {position + 1} ({column}): "
                "blank; candidate, interviewer and dimension must be filled in.",
            )
        problems.count += max(0, int(blank.sum()) - MAX_PROBLEMS)
    keep = ~blank_name & ~bad[local]
    for column in IDENTIFIER_COLUMNS:
        parts[column].append(coded[column][keep].astype(np.int32))
    parts["rating"].append(rating[keep].astype(np.float32))
    parts["line"].append(lines[keep].astype(np.int32))


def _check_scale(
    scale: RatingScale | None,
    rating: np.ndarray,
    lines: np.ndarray,
    column: int,
    problems: _Problems,
    notes: list[str],
) -> RatingScale:
    present = ~np.isnan(rating)
    if scale is None:
        if not present.any():
            return DEFAULT_SCALE
        low, high = int(rating[present].min()), int(rating[present].max())
        if high == low:
            high = low + 1
        if high - low + 1 > MAX_LEVELS:
            problems.add(
                0,
                f"The ratings run from {low} to {high}: more than {MAX_LEVELS} levels. "
                "Pass the scale (MIN..MAX) to find the ratings that are off it.",
            )
            return DEFAULT_SCALE
        notes.append(
            f"scale {low}..{high} read from the data (lowest and highest rating found); "
            "pass the scale (--scale MIN..MAX) to check ratings against your rubric"
        )
        return RatingScale(low, high, from_data=True)
    off = present & ((rating < scale.low) | (rating > scale.high))
    for row in np.flatnonzero(off)[:MAX_PROBLEMS]:
        problems.add(
            int(lines[row]),
            f"Line {lines[row]}, column {column} (rating): {rating[row]:g} is outside the scale {scale}.",
        )
    problems.count += max(0, int(off.sum()) - MAX_PROBLEMS)
    return scale


def _check_duplicates(codes: dict[str, np.ndarray], names: dict[str, _Names], problems: _Problems) -> None:
    n_interviewers = max(len(names["interviewer"].shown), 1)
    n_dimensions = max(len(names["dimension"].shown), 1)
    key = (codes["candidate"].astype(np.int64) * n_interviewers + codes["interviewer"]) * n_dimensions + codes[
        "dimension"
    ]
    order = np.argsort(key, kind="stable")
    key = key[order]
    repeated = np.flatnonzero(key[1:] == key[:-1]) + 1
    if not repeated.size:
        return
    # the first occurrence of each repeated key: walk back to the start of its run
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    run_start = starts[np.searchsorted(starts, repeated, side="right") - 1]
    lines = codes["line"]
    for position, first in zip(repeated[:MAX_PROBLEMS], run_start[:MAX_PROBLEMS], strict=True):
        line, original = int(lines[order[position]]), int(lines[order[first]])
        problems.add(
            line,
            f"Line {line}: duplicate of line {original} (same candidate, "
            "interviewer and dimension, names matched ignoring case).",
        )
    problems.count += max(0, repeated.size - MAX_PROBLEMS)
