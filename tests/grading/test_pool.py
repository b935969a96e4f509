"""Warm sandboxes: a warm run grades like a cold one, a sandbox is never reused, idle ones are discarded."""

from __future__ import annotations

import time

import pytest

from assessments.grading import pool as pool_module
from assessments.grading.pipeline import grade_notebook
from assessments.grading.pool import SandboxPool, WarmSandbox, default_pool
from assessments.grading.runtime import default_runtime_path
from tests.grading.conftest import SEED

LEFT_BEHIND = """
import os, sys
if os.path.exists("left-behind.txt") or hasattr(sys, "_assess_left_behind"):
    total = -1.0  # something of an earlier submission is still here
with open("left-behind.txt", "w") as handle:
    handle.write("first")
sys._assess_left_behind = True
"""


def _wait_for(condition, seconds: float) -> bool:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.sandbox
def test_a_warm_sandbox_grades_once_and_the_next_submission_gets_a_fresh_one(case, solved, released, sandbox) -> None:
    pool = SandboxPool(1, limits=sandbox)
    try:
        first = grade_notebook(solved(LEFT_BEHIND), case, SEED, pool=pool)
        second = grade_notebook(solved(LEFT_BEHIND), case, SEED, pool=pool)
        blank = grade_notebook(released, case, SEED, pool=pool)
    finally:
        pool.close()
    assert (pool.handed_out, pool.lost) == (3, 0)
    # The second run found neither the file nor the interpreter state the first one left behind.
    for report in (first, second):
        assert (report.earned, report.possible, report.error, report.sandboxed) == (9, 9, None, True), report
        assert report.cells[-1].status == "ok"
    assert blank.earned == 0 and {c.status for c in blank.checks} == {"missing"}


@pytest.mark.sandbox
def test_a_warm_sandbox_past_its_idle_cap_is_discarded_unused(sandbox) -> None:
    pool = SandboxPool(1, limits=sandbox, max_idle_seconds=1.5, preload=())
    try:
        pool.start()
        assert _wait_for(lambda: bool(pool._ready), 30)
        old = pool._ready[0]
        assert _wait_for(lambda: not old.alive, 15), "the idle sandbox was not recycled"
        assert old._proc.poll() is not None  # killed, not just forgotten
        assert _wait_for(lambda: bool(pool._ready) and pool._ready[0] is not old, 30)
        taken = pool.take()
        assert taken is not None and taken is not old and pool.handed_out == 1
        taken.discard()
    finally:
        pool.close()


@pytest.mark.sandbox
def test_a_warm_sandbox_that_never_gets_a_submission_ends_itself(sandbox) -> None:
    # The runner's own cap (idle + a margin) is the backstop when the pool is gone: here about 1 s.
    warm = WarmSandbox(
        sandbox,
        default_runtime_path().resolve(),
        (),
        idle_seconds=-pool_module._RUNNER_IDLE_MARGIN + 1,
        startup_seconds=60,
    )
    try:
        assert warm.ready(wait_seconds=60), "the warm sandbox never became ready"
        assert _wait_for(lambda: warm._proc.poll() is not None, 20)
        assert warm._proc.returncode == 3
    finally:
        warm.discard()


def test_the_default_pool_is_sized_from_the_environment_and_zero_disables_it(monkeypatch) -> None:
    monkeypatch.setattr(pool_module, "_default", None)
    monkeypatch.setenv("ASSESS_WARM_SANDBOXES", "0")
    assert default_pool() is None
    monkeypatch.setattr(SandboxPool, "start", lambda self: None)  # no sandboxes for this check
    monkeypatch.setenv("ASSESS_WARM_SANDBOXES", "3")
    made = default_pool()
    assert made is not None and made.size == 3 and default_pool() is made
    monkeypatch.delenv("ASSESS_WARM_SANDBOXES")
    monkeypatch.setattr(pool_module, "_default", None)
    assert default_pool().size == 2


def test_a_pool_whose_limits_differ_from_the_runs_is_not_used(case, solved, monkeypatch) -> None:
    from assessments.grading import pipeline
    from assessments.grading.sandbox import SandboxLimits, SandboxRun

    pool = SandboxPool(1, limits=SandboxLimits(wall_seconds=50, cell_seconds=10))
    monkeypatch.setattr(pool, "take", lambda: pytest.fail("a warm sandbox was taken for other limits"))
    cold_runs = []

    def cold(files, runner_args, limits, **kwargs):
        cold_runs.append(limits)
        return SandboxRun(output=b"", exit_code=1, timed_out=False, output_capped=False, seconds=0.1, sandboxed=True)

    monkeypatch.setattr(pipeline, "run_in_sandbox", cold)
    grade_notebook(solved(), case, SEED, pool=pool, limits=SandboxLimits(wall_seconds=40, cell_seconds=10))
    assert cold_runs == [SandboxLimits(wall_seconds=40, cell_seconds=10)] and pool.handed_out == 0
