"""The seccomp filter's program, and what the operator is told when it cannot be had."""

from __future__ import annotations

import sys

import pytest

from assessments.grading import sandbox as sandbox_module
from assessments.grading.seccomp import INSTRUCTION_BYTES, SeccompUnavailable, filter_program


@pytest.fixture
def no_libseccomp(monkeypatch: pytest.MonkeyPatch):
    """As on a machine without libseccomp: the binding cannot be imported."""
    filter_program.cache_clear()
    monkeypatch.setitem(sys.modules, "pyseccomp", None)
    yield
    monkeypatch.undo()
    filter_program.cache_clear()


def test_the_program_is_whole_instructions_and_the_same_each_time() -> None:
    program = filter_program()
    assert program and len(program) % INSTRUCTION_BYTES == 0
    filter_program.cache_clear()
    assert filter_program() == program


def test_without_libseccomp_there_is_no_sandbox_and_the_operator_is_told_what_to_install(
    no_libseccomp, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SeccompUnavailable, match="apt-get install libseccomp2"):
        filter_program()
    problem = sandbox_module.sandbox_problem()
    assert problem is not None and problem.code == "seccomp-unavailable"
    assert "apt-get install libseccomp2" in problem.message
    with pytest.raises(SeccompUnavailable), sandbox_module.sandbox_inputs({}):
        pass
    assert sandbox_module.main(["check"]) == 1
    said = capsys.readouterr().err
    assert "cannot be graded" in said and "apt-get install libseccomp2" in said
