"""The A/B test readout case: deterministic data, planted effects at their stated strengths, a key
that matches independent computations, and an author notebook that reproduces the key."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient
from scipy import stats

CASE = Path(__file__).resolve().parents[2] / "cases" / "ab-readout"
SIZE = 20000
# Seeds whose planted effects are measured; every kind of plant and every decision occurs among them.
STUDY_SEEDS = range(36)


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ab_readout_generator", CASE / "generator.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def parts() -> dict[str, dict[str, Any]]:
    meta = tomllib.loads((CASE / "case.toml").read_text(encoding="utf-8"))
    return {part["id"]: part for part in meta["parts"]}


@pytest.fixture(scope="module")
def study(generator: ModuleType) -> list[tuple[dict, dict, dict]]:
    """(planted, answer key, data) for each study seed at the default size."""
    rows = []
    for seed in STUDY_SEEDS:
        data = generator.generate(seed, SIZE)
        rows.append((generator.planted(seed, SIZE), generator.answer_key(data), data))
    return rows


def csv_bytes(data: dict[str, pd.DataFrame]) -> dict[str, bytes]:
    return {stem: frame.to_csv(index=False, lineterminator="\n").encode() for stem, frame in data.items()}


def close(value: Any, expected: Any, check: dict[str, Any]) -> bool:
    """The case-format comparison of one answer with its key, under the part's check."""
    abs_tol, rel_tol = check.get("abs_tol", 0.0), check.get("rel_tol", 0.0)

    def near(a: float, b: float) -> bool:
        return abs(a - b) <= abs_tol or abs(a - b) <= rel_tol * abs(b)

    if check["kind"] == "number":
        return near(value, expected)
    if check["kind"] == "table":
        return set(value) == set(expected) and all(near(value[k], expected[k]) for k in expected)
    if check["kind"] == "choice":
        return value.strip().lower() == expected.strip().lower()
    return type(value) is bool and value == bool(expected)


def test_the_loader_accepts_the_case() -> None:
    from assessments.content.case import load_case
    from assessments.grading.checks import CHECK_RULES

    case = load_case(CASE, check_rules=CHECK_RULES)
    assert case.slug == "ab-readout"
    assert {p.id for p in case.checkable_parts} == set(case.answer_key(case.generate(3, 2000)))


def test_same_seed_gives_identical_csv_bytes(generator: ModuleType) -> None:
    assert csv_bytes(generator.generate(11, SIZE)) == csv_bytes(generator.generate(11, SIZE))
    assert generator.planted(11, SIZE) == generator.planted(11, SIZE)


def test_too_small_a_size_is_refused_rather_than_giving_empty_cells(generator: ModuleType) -> None:
    with pytest.raises(ValueError, match="at least"):
        generator.generate(1, 100)


def test_fifty_seeds_give_fifty_datasets_and_keys(generator: ModuleType) -> None:
    digests, keys = set(), set()
    for seed in range(50):
        data = generator.generate(seed, 1000)
        digests.add(hashlib.sha256(b"".join(csv_bytes(data).values())).hexdigest())
        keys.add(json.dumps(generator.answer_key(data), sort_keys=True))
    assert len(digests) == 50
    assert len(keys) == 50


def test_data_matches_the_data_dictionary(study: list) -> None:
    _, _, data = study[0]
    users, sessions = data["users"], data["sessions"]
    assert list(users.columns) == ["user_id", "arm", "platform", "country", "user_type"]
    assert list(sessions.columns) == ["user_id", "day", "converted", "revenue", "latency_ms"]
    assert users["user_id"].is_unique
    assert set(sessions["user_id"]) == set(users["user_id"])
    assert sessions["day"].between(1, 14).all() and set(sessions["converted"]) == {0, 1}
    assert (sessions.loc[sessions["converted"] == 0, "revenue"] == 0).all()
    assert (sessions.loc[sessions["converted"] == 1, "revenue"] > 0).all()
    assert set(users["country"]) == {"US", "GB", "DE", "BR", "IN"}


def test_srm_is_flagged_exactly_when_planted(study: list) -> None:
    planted_rows = [(p, k, d) for p, k, d in study if p["srm"]["present"]]
    clean_rows = [(p, k, d) for p, k, d in study if not p["srm"]["present"]]
    assert len(planted_rows) >= 5 and len(clean_rows) >= 15
    for planted, key, data in planted_rows:
        users = data["users"]
        on_platform = users[users["platform"] == planted["srm"]["platform"]]
        counts = on_platform["arm"].value_counts()
        assert stats.chisquare([counts["control"], counts["treatment"]]).pvalue < 0.001
        # The stated strength: the treatment lost about `lost_share` of its users on that platform.
        lost = 1 - counts["treatment"] / counts["control"]
        assert lost == pytest.approx(planted["srm"]["lost_share"], abs=0.07)
        assert key["srm_present"] is True
    assert sum(key["srm_present"] for _, key, _ in clean_rows) <= 1


def test_novelty_shows_as_an_early_lift_well_above_the_late_one(study: list) -> None:
    clean = [(p, k) for p, k, _ in study if not p["srm"]["present"]]
    gaps_planted = [k["early_late_lift"]["early"] - k["early_late_lift"]["late"] for p, k in clean if p["novelty"]["present"]]
    gaps_absent = [k["early_late_lift"]["early"] - k["early_late_lift"]["late"] for p, k in clean if not p["novelty"]["present"]]
    assert len(gaps_planted) >= 6 and len(gaps_absent) >= 6
    assert min(gaps_planted) > 0.06
    assert np.mean(gaps_planted) - np.mean(gaps_absent) > 0.1
    assert abs(np.mean(gaps_absent)) < 0.03


def test_reversed_country_is_found_when_planted_and_rarely_otherwise(study: list) -> None:
    clean = [(p, k) for p, k, _ in study if not p["srm"]["present"]]
    planted = [(p, k) for p, k in clean if p["reversal"]["present"]]
    absent = [(p, k) for p, k in clean if not p["reversal"]["present"]]
    assert len(planted) >= 6 and len(absent) >= 6
    # Planted as a -25% to -40% session-level effect; a novelty boost and repeat sessions soften it per user.
    reversed_lifts = [k["country_lifts"][p["reversal"]["country"]] for p, k in planted]
    assert max(reversed_lifts) < 0 and np.median(reversed_lifts) < -0.15
    assert all(k["relative_lift"] > 0 for _, k in planted)
    found = sum(k["reversed_country"] == p["reversal"]["country"] for p, k in planted)
    assert found >= 0.8 * len(planted)
    assert sum(k["reversed_country"] != "none" for _, k in absent) <= 1


def test_guardrail_regression_is_detected_at_its_planted_size(study: list) -> None:
    clean = [(p, k, d) for p, k, d in study if not p["srm"]["present"]]
    assert sum(p["guardrail"]["present"] for p, _, _ in clean) >= 5
    for planted, key, data in clean:
        users, sessions = data["users"], data["sessions"]
        per_user = sessions.groupby("user_id")["latency_ms"].mean()
        arm = users.set_index("user_id")["arm"].reindex(per_user.index)
        increase = per_user[arm == "treatment"].mean() / per_user[arm == "control"].mean() - 1
        assert increase == pytest.approx(planted["guardrail"]["latency_increase"], abs=0.025)
        if planted["guardrail"]["present"]:
            assert key["guardrail_regressed"] is True
    assert sum(k["guardrail_regressed"] for p, k, _ in clean if not p["guardrail"]["present"]) <= 1


def test_every_decision_occurs(study: list) -> None:
    assert {key["decision"] for _, key, _ in study} == {"ship", "iterate", "stop"}


def _independent_key(users: pd.DataFrame, sessions: pd.DataFrame) -> dict[str, Any]:
    """The brief's definitions, re-derived with plain Python sets and textbook formulas."""
    z = stats.norm.isf(0.025)
    arm_of = dict(zip(users["user_id"], users["arm"]))
    buyers = set(sessions.loc[sessions["converted"] == 1, "user_id"])

    def user_lift(ids: list[int]) -> tuple[float, float, float, float, float]:
        c = [u for u in ids if arm_of[u] == "control"]
        t = [u for u in ids if arm_of[u] == "treatment"]
        pc, pt = sum(u in buyers for u in c) / len(c), sum(u in buyers for u in t) / len(t)
        se = math.sqrt(pc * (1 - pc) / len(c) + pt * (1 - pt) / len(t))
        return pc, pt, pt / pc - 1, (pt - pc - z * se) / pc, (pt - pc + z * se) / pc

    pc, pt, lift, low, high = user_lift(list(users["user_id"]))
    srm_p = stats.chisquare(users["arm"].value_counts()[["control", "treatment"]]).pvalue
    platform_p = [stats.chisquare(g["arm"].value_counts()[["control", "treatment"]]).pvalue for _, g in users.groupby("platform")]
    merged = sessions.merge(users[["user_id", "arm"]], on="user_id")
    period = np.where(merged["day"] <= 7, "early", "late")
    rate = merged.groupby([period, "arm"])["converted"].mean()
    countries = {c: user_lift(list(g["user_id"])) for c, g in users.groupby("country")}
    overall_side = 1 if low > 0 else -1 if high < 0 else 0
    flipped = [c for c, v in countries.items() if overall_side and (v[3] > 0 if overall_side < 0 else v[4] < 0)]

    per_user = merged.groupby(["user_id", "arm"])["latency_ms"].mean().reset_index()
    a = per_user.loc[per_user["arm"] == "treatment", "latency_ms"].to_numpy()
    b = per_user.loc[per_user["arm"] == "control", "latency_ms"].to_numpy()
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    t_stat = (a.mean() - b.mean()) / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    welch_p = 2 * stats.t.sf(abs(t_stat), dof)
    regressed = a.mean() > b.mean() and welch_p < 0.05
    srm = min(srm_p, *platform_p) < 0.001
    late = rate[("late", "treatment")] / rate[("late", "control")] - 1
    if srm:
        decision = "iterate"
    elif high < 0 or (regressed and low <= 0):
        decision = "stop"
    else:
        decision = "ship" if low > 0 and not regressed and late > 0 else "iterate"
    return {
        "conversion": {"control": pc, "treatment": pt},
        "relative_lift": lift,
        "lift_ci": {"low": low, "high": high},
        "srm_pvalue": srm_p,
        "srm_present": srm,
        "early_late_lift": {p: rate[(p, "treatment")] / rate[(p, "control")] - 1 for p in ("early", "late")},
        "country_lifts": {c: v[2] for c, v in countries.items()},
        "reversed_country": max(flipped, key=lambda c: abs(countries[c][2])) if flipped else "none",
        "guardrail_pvalue": welch_p,
        "guardrail_regressed": regressed,
        "decision": decision,
    }


def test_answer_key_agrees_with_an_independent_computation(study: list, parts: dict) -> None:
    checked = 0
    for planted, key, data in study[:6]:
        expected = _independent_key(data["users"], data["sessions"])
        assert set(key) == set(expected)
        for part_id, value in expected.items():
            check = parts[part_id]["check"]
            # Both sides follow the same definition, so only floating-point noise may separate them.
            strict = {**check, "abs_tol": 1e-9, "rel_tol": 1e-7}
            assert close(key[part_id], value, strict), (part_id, key[part_id], value)
        checked += planted["srm"]["present"] or planted["reversal"]["present"]
    assert checked >= 3


def test_answer_key_is_plain_json(study: list) -> None:
    for _, key, _ in study[:5]:
        assert json.loads(json.dumps(key, allow_nan=False)) == key


def test_author_notebook_reproduces_the_key(
    generator: ModuleType, parts: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Jupyter warns (and warnings are errors here) unless told to use the platformdirs layout.
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    author = nbformat.read(CASE / "notebook.ipynb", as_version=4)
    answer_ids = [c.metadata["assess"]["answer"] for c in author.cells if "answer" in c.metadata.get("assess", {})]
    assert sorted(answer_ids) == sorted(pid for pid, part in parts.items() if "check" in part)
    # One kernel runs the notebook for both seeds, with a reset in between, to keep the test quick.
    seeds = (4, 2)  # seed 4 plants an SRM and a latency regression; seed 2 novelty and a reversed country
    cells = []
    for seed in seeds:
        folder = tmp_path / f"seed{seed}"
        folder.mkdir()
        for stem, frame in generator.generate(seed, SIZE).items():
            frame.to_csv(folder / f"{stem}.csv", index=False)
        cells.append(nbformat.v4.new_code_cell(f"%reset -f\nimport os\nos.chdir({str(folder)!r})"))
        cells.extend(nbformat.v4.new_code_cell(c.source) for c in author.cells if c.cell_type == "code")
        cells.append(nbformat.v4.new_code_cell(f"import json\nprint(json.dumps({{k: globals()[k] for k in {answer_ids!r}}}))"))
    run = nbformat.v4.new_notebook(cells=cells, metadata=author.metadata)
    NotebookClient(run, kernel_name="python3", timeout=120).execute()
    dumps = [c for c in run.cells if c.source.startswith("import json\nprint(json.dumps(")]
    for seed, cell in zip(seeds, dumps, strict=True):
        answers = json.loads(cell.outputs[-1]["text"])
        key = generator.answer_key(generator.generate(seed, SIZE))
        for part_id in answer_ids:
            assert close(answers[part_id], key[part_id], parts[part_id]["check"]), (seed, part_id)
