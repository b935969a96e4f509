"""Reading an ATS ratings export: any scale, problems by line and column, names matched once."""

from __future__ import annotations

import numpy as np
import pytest

from assessments.stats import CalibrationInputError
from assessments.stats.ratings_csv import RatingScale, parse_scale, read_ratings_csv


def test_columns_in_any_order_and_case_extra_columns_and_blank_lines() -> None:
    text = (
        "Rating,Notes,Dimension,Candidate,Interviewer\n"
        "3,fine,craft,c1,Ana\n\n4,,craft,c2,Ana\n,not assessed,craft,c3,Ana\n"
    )
    imported = read_ratings_csv(text, scale=parse_scale("1..4"))
    frame = imported.ratings
    assert frame["candidate"].tolist() == ["c1", "c2", "c3"]
    assert frame["rating"].tolist()[:2] == [3.0, 4.0] and np.isnan(frame["rating"].iloc[2])
    assert imported.notes == ()


def test_line_numbers_and_duplicates_hold_across_chunks() -> None:
    rows = [f"c{i},r{i % 3},x,{1 + i % 4}" for i in range(40)]
    rows[30] = "c0,R0,X,2"  # line 32 repeats line 2 in another chunk, written differently
    rows[35] = "c35,r2,x,nine"
    text = "candidate,interviewer,dimension,rating\n" + "\n".join(rows) + "\n"
    with pytest.raises(CalibrationInputError) as error:
        read_ratings_csv(text, scale=parse_scale("1..4"), chunk_rows=7)
    assert str(error.value).splitlines() == [
        "Line 32: duplicate of line 2 (same candidate, interviewer and dimension, names matched ignoring case).",
        "Line 37, column 4 (rating): 'nine' is not a number (leave it blank if not assessed).",
    ]


def test_names_match_ignoring_case_unicode_form_and_spaces_and_show_as_first_written() -> None:
    text = "candidate,interviewer,dimension,rating\nc1,Zoë  Ng,craft,3\nc2,ZOE\u0308 NG,craft,2\nc3, zoë ng ,Craft,1\n"
    imported = read_ratings_csv(text, scale=parse_scale("1..4"))
    assert imported.ratings["interviewer"].unique().tolist() == ["Zoë Ng"]
    assert imported.ratings["dimension"].unique().tolist() == ["craft"]
    assert any("matched ignoring case" in note for note in imported.notes)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_and_tabs(encoding: str) -> None:
    text = "candidate\tinterviewer\tdimension\trating\nc1\ta\tx\t3\n"
    imported = read_ratings_csv(text.encode(encoding), scale=parse_scale("1..4"))
    assert imported.ratings["rating"].tolist() == [3.0]
    assert f"read as {encoding.upper()} (no byte-order mark; zero bytes found)" in imported.notes
    assert "read as tab-separated" in imported.notes


@pytest.mark.parametrize(
    ("text", "scale"),
    [("1..5", RatingScale(1, 5)), ("0..10", RatingScale(0, 10)), (" 1 .. 7 ", RatingScale(1, 7))],
)
def test_scales_parse(text: str, scale: RatingScale) -> None:
    assert parse_scale(text) == scale


@pytest.mark.parametrize("text", ["5..1", "1..1", "one..five", "", "1..500"])
def test_bad_scales_are_refused(text: str) -> None:
    with pytest.raises(CalibrationInputError):
        parse_scale(text)


def test_a_header_alone_is_an_empty_frame() -> None:
    imported = read_ratings_csv("candidate,interviewer,dimension,rating\n")
    assert imported.ratings.empty and imported.scale == RatingScale(1, 4)
