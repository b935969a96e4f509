"""The A/B test readout case: deterministic data, planted effects at their stated strengths, a key
that matches independent computations, an author notebook that reproduces the key, parts that
reject the careless answers they were written to catch, and a corpus of careless notebooks graded
through the real pipeline."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import math
import tomllib
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient
from scipy import stats
from scipy.stats.contingency import relative_risk

CASE = Path(__file__).resolve().parents[2] / "cases" / "ab-readout"
SIZE = 20000
# Seeds whose planted effects and traps are measured; every kind of plant and every decision occurs among them.
STUDY_SEEDS = range(40)
PLATFORMS = ("ios", "android", "web")


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ab_readout_generator", CASE / "generator.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def case() -> Any:
    from assessments.content.case import load_case
    from assessments.grading.checks import CHECK_RULES

    return load_case(CASE, check_rules=CHECK_RULES)


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
    """The case-format comparison of one answer with its key, under the part's check (all entries right)."""
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


def earned(parts: dict, part_id: str, value: Any, expected: Any) -> float:
    """The share of the part's points the grader's own check gives this value (before rests_on)."""
    from assessments.grading.checks import score_check

    check = {k: v for k, v in parts[part_id]["check"].items() if k != "kind"}
    return score_check(parts[part_id]["check"]["kind"], check, value, expected, 1.0).earned


def four_digits(value: Any) -> Any:
    """A value as a careful candidate prints it: every number rounded to four significant digits."""
    if isinstance(value, dict):
        return {k: four_digits(v) for k, v in value.items()}
    return float(f"{value:.4g}") if isinstance(value, float) else value


def test_the_loader_accepts_the_case(case: Any) -> None:
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
    assert set(users["platform"]) == set(PLATFORMS)


def _arm_counts(users: pd.DataFrame) -> pd.Series:
    return users["arm"].value_counts().reindex(["control", "treatment"], fill_value=0)


def test_each_kind_of_srm_shows_where_it_was_planted(study: list) -> None:
    by_kind: dict[str | None, list] = {}
    for planted, key, data in study:
        by_kind.setdefault(planted["srm"]["kind"], []).append((planted, key, data))
    assert len(by_kind["lost"]) >= 3 and len(by_kind["relabelled"]) >= 5 and len(by_kind[None]) >= 25
    for planted, key, data in by_kind["lost"]:
        # Treatment users missing on one platform: the total shows it, and so does that platform.
        users = data["users"]
        counts = _arm_counts(users[users["platform"] == planted["srm"]["platform"]])
        assert 1 - counts["treatment"] / counts["control"] == pytest.approx(planted["srm"]["share"], abs=0.07)
        assert key["srm_pvalues"]["all"] < 0.001 and key["srm_pvalues"][planted["srm"]["platform"]] < 0.001
        assert key["srm_present"] is True
    for planted, key, data in by_kind["relabelled"]:
        # One app's treatment users logged as web users: the totals stay balanced, the platforms do not.
        users = data["users"]
        source = _arm_counts(users[users["platform"] == planted["srm"]["platform"]])
        assert 1 - source["treatment"] / source["control"] == pytest.approx(planted["srm"]["share"], abs=0.07)
        assert key["srm_pvalues"]["all"] >= 0.001
        assert key["srm_pvalues"][planted["srm"]["platform"]] < 0.001 and key["srm_pvalues"]["web"] < 0.001
        assert key["srm_present"] is True
    assert sum(key["srm_present"] for _, key, _ in by_kind[None]) <= 1


def test_novelty_shows_as_an_early_lift_well_above_the_late_one(study: list) -> None:
    clean = [(p, k) for p, k, _ in study if not p["srm"]["present"]]
    gaps_planted = [
        k["early_late_lift"]["early"] - k["early_late_lift"]["late"] for p, k in clean if p["novelty"]["present"]
    ]
    gaps_absent = [
        k["early_late_lift"]["early"] - k["early_late_lift"]["late"] for p, k in clean if not p["novelty"]["present"]
    ]
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


def test_decisions_are_balanced_and_follow_what_was_planted(study: list) -> None:
    decisions = Counter(key["decision"] for _, key, _ in study)
    assert set(decisions) == {"ship", "iterate", "stop"}
    # Before: iterate on 27 of 40 seeds, so a constant guess scored two thirds of the time.
    assert all(0.28 * len(study) <= n <= 0.4 * len(study) for n in decisions.values()), decisions
    hit = sum(planted["target_decision"] == key["decision"] for planted, key, _ in study)
    assert hit >= 0.9 * len(study)


def _independent_key(users: pd.DataFrame, sessions: pd.DataFrame) -> dict[str, Any]:
    """The brief's definitions, re-derived with plain Python sets, scipy's relative risk and textbook formulas."""
    arm_of = dict(zip(users["user_id"], users["arm"], strict=True))
    buyers = set(sessions.loc[sessions["converted"] == 1, "user_id"])

    def user_lift(ids: list[int]) -> tuple[float, float, float, float, float]:
        c = [u for u in ids if arm_of[u] == "control"]
        t = [u for u in ids if arm_of[u] == "treatment"]
        xc, xt = sum(u in buyers for u in c), sum(u in buyers for u in t)
        result = relative_risk(xt, len(t), xc, len(c))
        interval = result.confidence_interval(0.95)
        return xc / len(c), xt / len(t), result.relative_risk - 1, interval.low - 1, interval.high - 1

    pc, pt, lift, low, high = user_lift(list(users["user_id"]))
    srm = {"all": stats.chisquare(_arm_counts(users)).pvalue}
    srm.update({p: stats.chisquare(_arm_counts(g)).pvalue for p, g in users.groupby("platform")})
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
    srm_present = min(srm.values()) < 0.001
    late = rate[("late", "treatment")] / rate[("late", "control")] - 1
    if srm_present:
        decision = "iterate"
    elif high < 0 or (regressed and low <= 0):
        decision = "stop"
    else:
        decision = "ship" if low > 0 and not regressed and late > 0 else "iterate"
    return {
        "conversion": {"control": pc, "treatment": pt},
        "relative_lift": lift,
        "lift_ci": {"low": low, "high": high},
        "srm_pvalues": srm,
        "srm_present": srm_present,
        "early_late_lift": {p: rate[(p, "treatment")] / rate[(p, "control")] - 1 for p in ("early", "late")},
        "country_lifts": {c: v[2] for c, v in countries.items()},
        "reversed_country": max(flipped, key=lambda c: abs(countries[c][2])) if flipped else "none",
        "guardrail_pvalue": welch_p,
        "guardrail_regressed": regressed,
        "decision": decision,
    }


def test_answer_key_agrees_with_an_independent_computation(study: list, parts: dict) -> None:
    checked = set()
    for planted, key, data in study[:8]:
        expected = _independent_key(data["users"], data["sessions"])
        assert set(key) == set(expected)
        for part_id, value in expected.items():
            check = parts[part_id]["check"]
            # Both sides follow the same definition, so only floating-point noise may separate them.
            strict = {**check, "abs_tol": 1e-9, "rel_tol": 1e-7}
            assert close(key[part_id], value, strict), (part_id, key[part_id], value)
        checked |= {planted["srm"]["kind"], planted["reversal"]["present"] and "reversal"}
    assert {"lost", "relabelled", "reversal"} <= checked


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
    # One kernel runs the notebook for each seed, with a reset in between, to keep the test quick.
    # Seed 0 plants an SRM seen only per platform and a latency regression, seed 7 one seen on all
    # users, seed 2 a reversed country.
    seeds = (0, 7, 2)
    cells = []
    for seed in seeds:
        folder = tmp_path / f"seed{seed}"
        folder.mkdir()
        for stem, frame in generator.generate(seed, SIZE).items():
            frame.to_csv(folder / f"{stem}.csv", index=False)
        cells.append(nbformat.v4.new_code_cell(f"%reset -f\nimport os\nos.chdir({str(folder)!r})"))
        cells.extend(nbformat.v4.new_code_cell(c.source) for c in author.cells if c.cell_type == "code")
        cells.append(
            nbformat.v4.new_code_cell(f"import json\nprint(json.dumps({{k: globals()[k] for k in {answer_ids!r}}}))")
        )
    run = nbformat.v4.new_notebook(cells=cells, metadata=author.metadata)
    NotebookClient(run, kernel_name="python3", timeout=120).execute()
    dumps = [c for c in run.cells if c.source.startswith("import json\nprint(json.dumps(")]
    for seed, cell in zip(seeds, dumps, strict=True):
        answers = json.loads(cell.outputs[-1]["text"])
        key = generator.answer_key(generator.generate(seed, SIZE))
        for part_id in answer_ids:
            assert close(answers[part_id], key[part_id], parts[part_id]["check"]), (seed, part_id)


# The traps of issue 14, item 5, measured over the study seeds with the case's own checks.


def _symmetric_intervals(users: pd.DataFrame, sessions: pd.DataFrame) -> dict[str, dict[str, float]]:
    """The relative lift's interval as a candidate who does not follow the brief would compute it."""
    bought = users["user_id"].isin(sessions.loc[sessions["converted"] == 1, "user_id"]).to_numpy(float)
    treated = (users["arm"] == "treatment").to_numpy()
    xc, xt, nc, nt = bought[~treated].sum(), bought[treated].sum(), (~treated).sum(), treated.sum()
    pc, pt, z = xc / nc, xt / nt, stats.norm.ppf(0.975)
    pooled = (xc + xt) / (nc + nt)
    se = {
        "unpooled Wald": math.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc),
        "pooled Wald": math.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt)),
    }
    out = {name: {"low": (pt - pc - z * s) / pc, "high": (pt - pc + z * s) / pc} for name, s in se.items()}
    student = stats.ttest_ind(bought[treated], bought[~treated]).confidence_interval(0.95)
    out["Student's t"] = {"low": student.low / pc, "high": student.high / pc}
    half = z * (pt / pc) * math.sqrt(1 / xt - 1 / nt + 1 / xc - 1 / nc)
    out["delta method"] = {"low": pt / pc - 1 - half, "high": pt / pc - 1 + half}
    return out


def test_symmetric_intervals_miss_the_key_on_every_seed_while_four_digits_pass(study: list, parts: dict) -> None:
    # Before: the key was the unpooled Wald interval with 5e-4 per bound; pooled and Student's t passed 40/40.
    for _, key, data in study:
        assert earned(parts, "lift_ci", four_digits(key["lift_ci"]), key["lift_ci"]) == 1
        for name, interval in _symmetric_intervals(data["users"], data["sessions"]).items():
            assert earned(parts, "lift_ci", interval, key["lift_ci"]) == 0, name
            # The margin: at least 8x the tolerance on the bound that misses most.
            assert max(abs(interval[b] - key["lift_ci"][b]) for b in ("low", "high")) > 8e-4, name


def test_the_per_platform_srm_rule_changes_the_answer_on_a_good_share_of_seeds(study: list, parts: dict) -> None:
    # Before: no seed planted an SRM on one platform only, so testing all users alone was always right.
    all_users_only = [key["srm_pvalues"]["all"] < 0.001 for _, key, _ in study]
    wrong = sum(
        earned(parts, "srm_present", guess, key["srm_present"]) == 0
        for guess, (_, key, _) in zip(all_users_only, study, strict=True)
    )
    assert wrong >= 0.15 * len(study)
    # And the platform p-values an all-users-only notebook cannot give are part of the answer.
    assert all(set(key["srm_pvalues"]) == {"all", *PLATFORMS} for _, key, _ in study)


def test_p_values_are_checked_relative_to_their_size(study: list, parts: dict) -> None:
    # Before: an absolute tolerance of 1e-4 accepted 0 for any key below 1e-4 (15 and 17 of 40 seeds).
    tiny = 0
    for _, key, _ in study:
        pvalues = [("guardrail_pvalue", key["guardrail_pvalue"], lambda v: v)]
        pvalues += [
            ("srm_pvalues", p, lambda v, name=name, srm=key["srm_pvalues"]: {**srm, name: v})
            for name, p in key["srm_pvalues"].items()
        ]
        for part_id, p, answer in pvalues:
            expected = key[part_id]
            assert earned(parts, part_id, answer(float(f"{p:.4g}")), expected) == 1
            for wrong in (0.0, 1e-300, p * 1.01, p / 1.01, p * 10):
                if p > 0:
                    assert earned(parts, part_id, answer(wrong), expected) < 1, (part_id, p, wrong)
            tiny += p < 1e-10
    assert tiny >= 5  # legitimately tiny keys exist, and are accepted only when given as computed


def test_guessing_the_judgment_parts_earns_nothing_without_their_evidence(study: list, parts: dict, case: Any) -> None:
    from assessments.grading.pipeline import rest_on_evidence
    from assessments.grading.report import CheckResult

    judgment = {
        "srm_present": (True, False),
        "guardrail_regressed": (True, False),
        "reversed_country": ("none", "US", "DE"),
        "decision": ("ship", "iterate", "stop"),
    }
    points = {p.id: p.points for p in case.checkable_parts}
    for guess in itertools.product(*judgment.values()):
        shares = []
        for _, key, _ in study:
            checks = []
            for part in case.checkable_parts:
                value = dict(zip(judgment, guess, strict=True)).get(part.id)
                share = earned(parts, part.id, value, key[part.id]) if value is not None else 0.0
                checks.append(
                    CheckResult(part.id, share * part.points, part.points, "correct" if share else "incorrect", "")
                )
            shares.append(sum(c.earned for c in rest_on_evidence(case, checks)) / sum(points.values()))
        assert max(shares) == 0, guess
    # Without the evidence rule each guess would still be right by chance: no constant decision is
    # right on more than 40% of seeds (before: "iterate" on 27 of 40).
    for decision in judgment["decision"]:
        assert sum(key["decision"] == decision for _, key, _ in study) <= 0.4 * len(study)


CORPUS_SEEDS = range(10)  # the seeds tests/cases/test_careless_corpora.py grades the corpus on


def test_the_corpus_seeds_hold_every_kind_of_plant(generator: ModuleType) -> None:
    planted = [generator.planted(seed, SIZE) for seed in CORPUS_SEEDS]
    assert {p["srm"]["kind"] for p in planted} == {None, "lost", "relabelled"}
    assert {p["target_decision"] for p in planted} == {"ship", "stop", "iterate"}
    assert any(p["reversal"]["present"] for p in planted) and any(p["novelty"]["present"] for p in planted)
    assert any(p["guardrail"]["present"] for p in planted)
