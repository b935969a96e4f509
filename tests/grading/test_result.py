"""The runner's output is untrusted: only one line with this run's nonce, strictly shaped, is accepted."""

from __future__ import annotations

import json

import pytest

from assessments.grading.report import CellResult, CheckResult, GradeReport, Timings
from assessments.grading.result import RunnerResultInvalid, parse_runner_output
from assessments.grading.runner.protocol import PROTOCOL_VERSION

NONCE = "5f0c" * 8


def _line(document: object, nonce: str = NONCE) -> bytes:
    return f"ASSESS-RESULT {nonce} {json.dumps(document)}\n".encode()


def _document(**changes: object) -> dict:
    document = {
        "runner": PROTOCOL_VERSION,
        "cells": [
            {"index": 1, "status": "ok", "error": None, "seconds": 0.1},
            {"index": 3, "status": "error", "error": "KeyError: 'x'", "seconds": 0.2},
        ],
        "answers": {"total": {"state": "ok", "value": 1.5}, "flagged": {"state": "undefined"}},
        "failure": None,
        "answers_failure": None,
        "kernel_start_seconds": 1.0,
        "execution_seconds": 0.3,
        "runner_seconds": 2.0,
    }
    document.update(changes)
    return document


def _parse(output: bytes):
    return parse_runner_output(
        output, NONCE, code_cells=(1, 3, 4), answer_names=("total", "flagged"), max_bytes=1024 * 1024
    )


def test_a_well_formed_result_is_read_and_unlisted_cells_count_as_not_run() -> None:
    result = _parse(b"bwrap noise\n" + _line(_document()))
    assert [(c.index, c.status) for c in result.cells] == [(1, "ok"), (3, "error"), (4, "not-run")]
    assert result.answers["total"].value == 1.5 and result.answers["flagged"].state == "undefined"


def test_a_forged_line_without_the_nonce_is_ignored() -> None:
    forged = _line(_document(answers={"total": {"state": "ok", "value": 99.0}}), nonce="0" * 32)
    assert _parse(forged + _line(_document())).answers["total"].value == 1.5
    with pytest.raises(RunnerResultInvalid, match="no result line"):
        _parse(forged)


def test_two_lines_with_the_nonce_are_refused() -> None:
    with pytest.raises(RunnerResultInvalid, match="more than one"):
        _parse(_line(_document()) + _line(_document()))


@pytest.mark.parametrize(
    "document",
    [
        _document(extra="x"),
        _document(runner=PROTOCOL_VERSION - 1),  # a runner from before the protocol changed
        _document(cells=[{"index": 2, "status": "ok", "seconds": 0}]),  # 2 is a markdown cell
        _document(cells=[{"index": 1, "status": "passed", "seconds": 0}]),
        _document(cells=[{"index": 1, "status": "ok", "seconds": -1}]),
        _document(cells=[{"index": 1, "status": "ok", "seconds": 0, "score": 10}]),
        _document(answers={"grade": {"state": "ok", "value": 100}}),  # a name nobody asked for
        _document(answers={"total": {"state": "ok", "value": 1, "earned": 2}}),
        _document(answers={"total": {"state": "correct", "value": 1}}),
        _document(answers={"total": {"state": "ok", "value": "x" * 20_000}}),
        _document(answers={"total": {"state": "ok", "value": [[[[[[[[[[1]]]]]]]]]]}}),
        _document(answers={"total": {"state": "ok", "value": list(range(250_000))}}),
        _document(kernel_start_seconds="fast"),
        [1, 2],
    ],
)
def test_malformed_results_are_refused_whole(document: object) -> None:
    with pytest.raises(RunnerResultInvalid):
        _parse(_line(document))


def test_oversize_output_and_non_json_are_refused() -> None:
    with pytest.raises(RunnerResultInvalid):
        parse_runner_output(b"x" * 2000, NONCE, code_cells=(), answer_names=(), max_bytes=1000)
    with pytest.raises(RunnerResultInvalid, match="not JSON"):
        _parse(f"ASSESS-RESULT {NONCE} {{not json\n".encode())
    with pytest.raises(RunnerResultInvalid, match="not JSON"):
        _parse(f"ASSESS-RESULT {NONCE} ".encode() + b"[" * 50_000 + b"\n")


def test_nan_survives_parsing_so_the_check_can_refuse_it_by_name() -> None:
    line = f'ASSESS-RESULT {NONCE} {{"runner": {PROTOCOL_VERSION}, "answers": {{"total": {{"state": "ok", "value": NaN}}}}}}\n'
    value = _parse(line.encode()).answers["total"].value
    assert value != value  # NaN


def test_grade_report_round_trips_through_json() -> None:
    report = GradeReport(
        grader_version="1.0",
        case_slug="tiny-sums",
        case_version="abc",
        seed=7,
        earned=2.5,
        possible=9.0,
        checks=(CheckResult("total", 2.0, 2.0, "correct", "ok"), CheckResult("flagged", 0.5, 2.0, "partial", "m")),
        cells=(CellResult(1, "ok", None, 0.1), CellResult(3, "timeout", "stopped after 4 s", 4.0)),
        timings=Timings(sandbox_start=1.0, execution=4.1, scoring=0.01, total=5.2),
        error=None,
        answers={"total": 2.5, "group_means": {"a": 1.0}},
    )
    again = GradeReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report
    assert again.check("flagged").earned == 0.5
