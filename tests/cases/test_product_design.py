"""The product-design case: deterministic data, planted imbalance and leak, a correct key, traps that
catch what they are for, and a careless-analyst corpus graded through the real pipeline."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import time
import tomllib
from collections import Counter
from pathlib import Path
from types import ModuleType

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient
from scipy.stats import norm

from assessments.content.bundle import frame_csv

CASE = Path(__file__).resolve().parents[2] / "cases" / "product-design"
SIZE = 20000


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("case_product_design_generator", CASE / "generator.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def case_toml() -> dict:
    return tomllib.loads((CASE / "case.toml").read_text())


@pytest.fixture(scope="module")
def seeds_data(generator: ModuleType) -> dict[int, dict[str, pd.DataFrame]]:
    return {seed: generator.generate(seed, SIZE) for seed in range(8)}


@pytest.fixture(scope="module")
def plans(generator: ModuleType) -> dict[int, dict]:
    return {seed: generator.planted(seed, SIZE) for seed in range(8)}


# Independent computations: different formulations from the generator's.


def pairwise_auc(values: np.ndarray, label: np.ndarray) -> float:
    """P(positive > negative) + 0.5 P(tie), counted with sorted searches."""
    negatives = np.sort(values[label == 0])
    positives = values[label == 1]
    below = np.searchsorted(negatives, positives, side="left")
    at_or_below = np.searchsorted(negatives, positives, side="right")
    return float((below + 0.5 * (at_or_below - below)).sum() / (len(positives) * len(negatives)))


def power_at(n: float, p1: float, p2: float, alpha: float = 0.05) -> float:
    """Power of the two-sided pooled two-proportion z-test with n per arm (normal approximation)."""
    p_bar = (p1 + p2) / 2
    shift = abs(p1 - p2) * math.sqrt(n) - norm.ppf(1 - alpha / 2) * math.sqrt(2 * p_bar * (1 - p_bar))
    return float(norm.cdf(shift / math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))))


def metric_by_expected_cost(base_rate: float, policy: pd.Series) -> str:
    """The brief's rule, phrased as costs: a broad band is challenged when challenging an average login
    costs no more than letting it through; a score used as a probability needs a calibration metric."""
    if policy["score_use"] == "probability":
        return "log_loss"
    let_through = base_rate * policy["cost_missed_takeover"]
    challenge = (1 - base_rate) * policy["cost_needless_challenge"]
    return "roc_auc" if challenge <= let_through else "pr_auc"


def passes(check: dict, got: object, want: object) -> bool:
    """The case.toml rule for the kinds this case uses (holdout scores: the first band's ROC AUC)."""
    if check["kind"] == "predictions":
        return isinstance(got, list) and pairwise_auc(np.array(got), np.array(want["labels"])) >= check["bands"][0][0]
    if check["kind"] == "number":
        tol = max(check.get("abs_tol", 0.0), check.get("rel_tol", 0.0) * abs(want))
        return isinstance(got, (int, float)) and abs(got - want) <= tol
    if check["kind"] == "choice":
        return isinstance(got, str) and got.strip().lower() == str(want).lower()
    raise AssertionError(check["kind"])


# Determinism and variety


def test_same_seed_gives_the_same_csv_bytes_and_other_seeds_differ(generator: ModuleType) -> None:
    first = {stem: frame_csv(f) for stem, f in generator.generate(7, 5000).items()}
    again = {stem: frame_csv(f) for stem, f in generator.generate(7, 5000).items()}
    other = {stem: frame_csv(f) for stem, f in generator.generate(8, 5000).items()}
    assert first == again
    assert first["logins"] != other["logins"] and first["experiment_plan"] != other["experiment_plan"]


def test_fifty_seeds_give_fifty_different_datasets_and_keys(generator: ModuleType) -> None:
    data_hashes, key_dumps, leaks = set(), set(), set()
    for seed in range(50):
        data = generator.generate(seed, 3000)
        data_hashes.add(hashlib.sha256(pd.util.hash_pandas_object(data["logins"]).to_numpy().tobytes()).hexdigest())
        key = generator.answer_key(data, generator.hidden(seed, 3000))
        key_dumps.add(json.dumps(key, sort_keys=True, allow_nan=False))
        leaks.add(key["leaky_feature"])
    assert len(data_hashes) == 50 and len(key_dumps) == 50
    assert len(leaks) >= 3


def test_generation_and_key_are_fast(generator: ModuleType) -> None:
    # CPU time, not wall time: the machine running the suite may be busy.
    start = time.process_time()
    generator.answer_key(generator.generate(3, SIZE), generator.hidden(3, SIZE))
    assert time.process_time() - start < 1.0


# Planted effects, measured independently


def test_takeovers_are_rare_and_concentrated_in_few_accounts(seeds_data: dict) -> None:
    for seed, data in seeds_data.items():
        logins = data["logins"]
        base_rate = np.count_nonzero(logins["is_ato"]) / len(logins)
        compromised = set(logins.loc[logins["is_ato"] == 1, "account_id"])
        account_rate = len(compromised) / logins["account_id"].nunique()
        assert 0.002 < base_rate < 0.03, seed
        # The experiment's unit is the account: using the login rate would misstate the baseline.
        assert account_rate > 1.3 * base_rate, seed


def test_planted_leak_separates_the_label_and_the_catalog_betrays_it(
    generator: ModuleType, seeds_data: dict, plans: dict
) -> None:
    for seed, data in seeds_data.items():
        leak = plans[seed]["leaky_feature"]
        logins, catalog = data["logins"], data["feature_catalog"].set_index("feature")
        y = logins["is_ato"].to_numpy()
        separation = {c: abs(pairwise_auc(logins[c].to_numpy(float), y) - 0.5) + 0.5 for c in catalog.index}
        assert separation[leak] > 0.85, (seed, separation)
        assert max(v for c, v in separation.items() if c != leak) < separation[leak] - 0.05, (seed, separation)
        assert catalog.loc[leak, "as_of"].startswith("export date")
        point_in_time = catalog.index[catalog["as_of"].str.startswith("login time")]
        assert set(catalog.index) - set(point_in_time) == {leak, "mfa_enabled"}


def test_the_holdout_is_next_week_at_login_time_and_its_labels_stay_hidden(
    generator: ModuleType, seeds_data: dict, plans: dict
) -> None:
    for seed, data in seeds_data.items():
        holdout, logins = data["holdout_logins"], data["logins"]
        labels = generator.hidden(seed, SIZE)["holdout_labels"]
        assert "is_ato" not in holdout.columns and list(holdout.columns) == [c for c in logins.columns if c != "is_ato"]
        assert holdout["login_id"].is_unique and not set(holdout["login_id"]) & set(logins["login_id"])
        assert not set(holdout["account_id"]) & set(logins["account_id"]) and holdout["day"].min() > 28
        assert sorted(labels["login_id"]) == sorted(holdout["login_id"]) and len(holdout) <= 10_000
        y = labels.set_index("login_id").loc[holdout["login_id"], "is_ato"].to_numpy()
        assert 15 <= y.sum() <= 0.05 * len(y), seed
        # Read at login time, the leaky column carries no more than an honest one does.
        leak = plans[seed]["leaky_feature"]
        assert abs(pairwise_auc(holdout[leak].to_numpy(float), y) - 0.5) + 0.5 < 0.8, seed
        assert abs(pairwise_auc(logins[leak].to_numpy(float), logins["is_ato"].to_numpy()) - 0.5) + 0.5 > 0.85
        # A constant score and one raw flag reach no band or a low one; the bands are about the model.
        assert pairwise_auc(np.zeros(len(y)), y) == 0.5
        assert pairwise_auc(holdout["new_device"].to_numpy(float), y) < 0.85


def test_hidden_labels_are_deterministic_and_leave_the_candidates_data_unchanged(generator: ModuleType) -> None:
    first = frame_csv(generator.hidden(7, 5000)["holdout_labels"])
    assert frame_csv(generator.hidden(7, 5000)["holdout_labels"]) == first
    assert frame_csv(generator.hidden(8, 5000)["holdout_labels"]) != first
    # The holdout has its own random stream: the logins of a seed do not depend on it.
    assert frame_csv(generator.generate(7, 5000)["logins"]) == frame_csv(generator.generate(7, 5000)["logins"])
    assert generator.generate(7, 5000)["holdout_logins"].equals(generator.generate(7, 900)["holdout_logins"])


# The key against independent computations and published values


def test_sample_size_formula_reproduces_published_examples(generator: ModuleType) -> None:
    # 10% vs 12% (a 20% relative increase): 3,840.9 by hand from the formula in the brief -> 3,841.
    assert generator.sample_size_per_arm(0.10, -0.20) == 3841
    # JMP 13.2 documentation, "Two Sample Proportions": 0.08 vs 0.06, alpha 0.05 two-sided, power 0.8
    # -> 2,554 per group (jmp.com/support/help/13-2/Two_Sample_Proportions.shtml).
    assert generator.sample_size_per_arm(0.08, 0.25) == 2554


def test_answer_key_matches_independent_computations(generator: ModuleType, seeds_data: dict, plans: dict) -> None:
    for seed in (0, 4, 7):
        data = seeds_data[seed]
        key = generator.answer_key(data, generator.hidden(seed, SIZE))
        logins, plan = data["logins"], data["experiment_plan"].iloc[0]
        assert key["base_rate"] == pytest.approx(np.count_nonzero(logins["is_ato"]) / len(logins), abs=1e-15)
        compromised = set(logins.loc[logins["is_ato"] == 1, "account_id"])
        p1 = len(compromised) / logins["account_id"].nunique()
        assert key["account_ato_rate"] == pytest.approx(p1, abs=1e-15)
        p2 = p1 * (1 - plan["relative_mde"])
        n = key["sample_size_per_arm"]
        assert n == int(n) and power_at(n, p1, p2) >= 0.8 > power_at(n - 1, p1, p2)
        assert key["metric_choice"] == metric_by_expected_cost(key["base_rate"], data["decision_policy"].iloc[0])
        assert key["leaky_feature"] == plans[seed]["leaky_feature"]


def test_sample_size_tolerance_accepts_formula_variants_and_rejects_wrong_baselines(
    generator: ModuleType, case_toml: dict, seeds_data: dict
) -> None:
    check = next(p["check"] for p in case_toml["parts"] if p["id"] == "sample_size_per_arm")
    for seed in range(8):
        data = seeds_data[seed]
        key = generator.answer_key(data, generator.hidden(seed, SIZE))
        p1, mde = key["account_ato_rate"], float(data["experiment_plan"]["relative_mde"].iloc[0])
        p2 = p1 * (1 - mde)
        variance = p1 * (1 - p1) + p2 * (1 - p2)
        unpooled = (norm.ppf(0.975) + norm.ppf(0.8)) ** 2 * variance / (p1 - p2) ** 2
        rounded_z = (1.96 * math.sqrt(2 * (p1 + p2) / 2 * (1 - (p1 + p2) / 2)) + 0.84 * math.sqrt(variance)) ** 2 / (
            p1 - p2
        ) ** 2
        # Cohen's h (arcsine), as statsmodels' NormalIndPower with proportion_effectsize solves it.
        cohens_h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))
        arcsine = 2 * ((norm.ppf(0.975) + norm.ppf(0.8)) / cohens_h) ** 2
        for variant in (unpooled, math.ceil(unpooled), rounded_z, arcsine):
            assert passes(check, variant, key["sample_size_per_arm"]), (seed, variant)
        login_baseline = generator.sample_size_per_arm(key["base_rate"], mde)
        wrong_direction = generator.sample_size_per_arm(p1, -mde)
        one_sided = (norm.ppf(0.95) + norm.ppf(0.8)) ** 2 * variance / (p1 - p2) ** 2
        # Without the two arms: one arm's variance only, or both arms' accounts counted as one arm's.
        one_arm_variance = (norm.ppf(0.975) + norm.ppf(0.8)) ** 2 * p1 * (1 - p1) / (p1 - p2) ** 2
        both_arms = 2 * key["sample_size_per_arm"]
        for wrong in (login_baseline, wrong_direction, one_sided, one_arm_variance, both_arms):
            assert not passes(check, wrong, key["sample_size_per_arm"]), (seed, wrong)


# The case folder as a whole


def test_parts_match_the_key_the_notebook_and_the_brief(generator: ModuleType, case_toml: dict) -> None:
    data = generator.generate(1, SIZE)
    key = generator.answer_key(data, generator.hidden(1, SIZE))
    checkable = {p["id"] for p in case_toml["parts"] if "check" in p}
    written = {p["id"] for p in case_toml["parts"] if "guidance" in p}
    assert checkable == set(key) and not checkable & written and len(written) == 5
    nb = nbformat.read(CASE / "notebook.ipynb", as_version=4)
    nbformat.validate(nb)
    answers = [c.metadata["assess"]["answer"] for c in nb.cells if "answer" in c.metadata.get("assess", {})]
    responses = [c.metadata["assess"]["response"] for c in nb.cells if "response" in c.metadata.get("assess", {})]
    assert sorted(answers) == sorted(checkable) and sorted(responses) == sorted(written)
    brief = (CASE / "brief.md").read_text()
    for frame in data.values():
        for column in frame.columns:
            assert f"`{column}`" in brief, column
    options = next(p["check"]["options"] for p in case_toml["parts"] if p["id"] == "leaky_feature")
    assert sorted(options) == sorted(data["feature_catalog"]["feature"])


def test_load_case_accepts_the_folder() -> None:
    case_module = pytest.importorskip("assessments.content.case")
    if not hasattr(case_module, "load_case"):
        pytest.skip("load_case is not written yet")
    checks = pytest.importorskip("assessments.grading.checks")
    spec = case_module.load_case(CASE, check_rules=checks.CHECK_RULES)
    assert spec.slug == "product-design" and len(spec.checkable_parts) == 6


# The author notebook reproduces the key


def run_author_notebook(runs: dict[int, dict[str, pd.DataFrame]], workdir: Path, names: list[str]) -> dict:
    """Run the notebook once per dataset in one kernel (one start-up); seed -> answer variables."""
    nb = nbformat.read(CASE / "notebook.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    cells, dumps = [], {}
    for seed, frames in runs.items():
        folder = workdir / str(seed)
        folder.mkdir()
        for stem, frame in frames.items():
            (folder / f"{stem}.csv").write_bytes(frame_csv(frame))
        cells.append(nbformat.v4.new_code_cell(f"import os\nos.chdir({str(folder)!r})"))
        cells.extend(nbformat.from_dict(dict(c)) for c in code)
        dump = f"import json\nprint(json.dumps({{n: globals()[n] for n in {names!r}}}))"
        dumps[seed] = nbformat.v4.new_code_cell(dump)
        cells.append(dumps[seed])
    nb.cells = cells
    NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(workdir)}}).execute()
    return {
        seed: json.loads("".join(o["text"] for o in cell.outputs if o.get("name") == "stdout"))
        for seed, cell in dumps.items()
    }


def test_author_notebook_answers_equal_the_key(
    generator: ModuleType, case_toml: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    checks = {p["id"]: p["check"] for p in case_toml["parts"] if "check" in p}
    runs = {seed: generator.generate(seed, SIZE) for seed in (2, 13)}
    answers = run_author_notebook(runs, tmp_path, sorted(checks))
    for seed, data in runs.items():
        key = generator.answer_key(data, generator.hidden(seed, SIZE))
        for part_id, check in checks.items():
            assert passes(check, answers[seed][part_id], key[part_id]), (seed, part_id, answers[seed][part_id])
        assert answers[seed]["sample_size_per_arm"] == key["sample_size_per_arm"]


# The traps an outside review measured over seeds 0-39 with the case's own checks (issue 14, item 5),
# each closed at its root. `planted` and the key describe a seed; the numbers in the comments are the
# review's and this version's, reproduced by these tests.

STUDY_SEEDS = range(40)
# Seeds on which the holdout models are fitted here (each fit takes a moment); the corpus below grades
# more models through the sandbox.
MODEL_SEEDS = range(12)


@pytest.fixture(scope="module")
def study(generator: ModuleType) -> list[dict]:
    """Per study seed: the key, the decision policy and the base rate (the frames are not kept)."""
    rows = []
    for seed in STUDY_SEEDS:
        data = generator.generate(seed, SIZE)
        key = generator.answer_key(data, generator.hidden(seed, SIZE))
        rows.append({"seed": seed, "key": key, "policy": data["decision_policy"].iloc[0]})
    return rows


def part_points(case_toml: dict) -> dict[str, float]:
    return {p["id"]: float(p["points"]) for p in case_toml["parts"] if "check" in p}


def test_metric_choice_follows_the_policy_costs_and_base_rate_so_no_constant_is_often_right(study: list) -> None:
    # Before: "pr_auc" on 40/40 seeds. Now: pr_auc 19, log_loss 16, roc_auc 5 (expected about a third each).
    answers = Counter(row["key"]["metric_choice"] for row in study)
    assert set(answers) == {"pr_auc", "roc_auc", "log_loss"}, answers
    assert max(answers.values()) <= len(study) / 2, answers
    lowest, highest = min(row["key"]["base_rate"] for row in study), max(row["key"]["base_rate"] for row in study)
    ranking, hangs_on_base_rate = 0, 0
    for row in study:
        key, policy = row["key"], row["policy"]
        assert key["metric_choice"] == metric_by_expected_cost(key["base_rate"], policy), row["seed"]
        if policy["score_use"] == "ranking":
            ranking += 1
            # No seed sits on the edge: the cost-weighted share is outside (0.444, 0.556) (odds within 1.25 of 1).
            weighted = key["base_rate"] * policy["cost_missed_takeover"]
            share = weighted / (weighted + (1 - key["base_rate"]) * policy["cost_needless_challenge"])
            assert not 0.444 < share < 0.556, (row["seed"], share)
            # Neither the costs nor the base rate alone decide: on many seeds the same costs give the other
            # answer at another seed's base rate (9 of the 24 ranking seeds).
            hangs_on_base_rate += metric_by_expected_cost(lowest, policy) != metric_by_expected_cost(highest, policy)
    assert hangs_on_base_rate >= ranking / 4, (hangs_on_base_rate, ranking)


def test_no_constant_names_the_leak_on_more_than_a_third_of_the_seeds(study: list) -> None:
    leaks = Counter(row["key"]["leaky_feature"] for row in study)
    assert len(leaks) == 4 and max(leaks.values()) <= len(study) / 3, leaks


def test_constant_answers_to_the_judgment_parts_earn_little(study: list, case_toml: dict) -> None:
    """The best constant metric and leak, over 40 seeds, as a share of the auto-graded points."""
    score_check = pytest.importorskip("assessments.grading.checks").score_check
    checks = {p["id"]: p["check"] for p in case_toml["parts"] if "check" in p}
    points = part_points(case_toml)
    best = {}
    for part_id in ("metric_choice", "leaky_feature"):
        params = {k: v for k, v in checks[part_id].items() if k != "kind"}
        best[part_id] = max(
            sum(score_check("choice", params, option, row["key"][part_id], points[part_id]).earned for row in study)
            for option in params["options"]
        ) / len(study)
    # Before: metric_choice 1.0 of its point on every seed. Now about 0.5 + 0.6 of the 10 points.
    assert best["metric_choice"] <= 0.5 * points["metric_choice"]
    assert sum(best.values()) <= 0.12 * sum(points.values()), best


def test_no_constant_number_is_within_tolerance_on_more_than_a_tenth_of_the_seeds(study: list, case_toml: dict) -> None:
    """Even the best constant for each computed part, chosen knowing every key, passes rarely."""
    checks = {p["id"]: p["check"] for p in case_toml["parts"] if "check" in p}
    for part_id in ("base_rate", "account_ato_rate", "sample_size_per_arm"):
        check = checks[part_id]
        keys = np.array([row["key"][part_id] for row in study])
        tolerance = np.maximum(check.get("abs_tol", 0.0), check.get("rel_tol", 0.0) * keys)
        # Each key's tolerance interval, ends included: the best constant sits at one of the ends.
        constants = np.concatenate([keys - tolerance, keys + tolerance])
        best = max(int((np.abs(constant - keys) <= tolerance).sum()) for constant in constants)
        assert best <= len(study) / 10, (part_id, best)


def design_columns(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The author's model inputs: durations on a log scale, a night-time flag instead of the hour."""
    x = frame[features].astype(float)
    for column in ("hours_since_last_login", "password_age_days"):
        x[column] = np.log1p(x[column])
    x["night"] = (frame["login_hour"] < 6).astype(float)
    return x.drop(columns="login_hour")


def test_the_holdout_top_band_is_reached_without_the_leak_and_missed_with_it(
    generator: ModuleType, case_toml: dict
) -> None:
    # Before: the author's logistic regression with the leaky column reached the top band on 39/40 seeds
    # (0.85-0.96); without it on 40/40. Now 1/40 with it (0.69-0.86), 40/40 without (0.91-0.98).
    linear_model = pytest.importorskip("sklearn.linear_model")
    top = next(p["check"]["bands"][0][0] for p in case_toml["parts"] if p["id"] == "holdout_predictions")
    leaky_scores, honest_scores = [], []
    for seed in MODEL_SEEDS:
        data = generator.generate(seed, SIZE)
        key = generator.answer_key(data, generator.hidden(seed, SIZE))
        logins, holdout = data["logins"], data["holdout_logins"]
        labels = np.array(key["holdout_predictions"]["labels"])
        every = list(data["feature_catalog"]["feature"])
        for features, scores in (
            (every, leaky_scores),
            ([c for c in every if c != key["leaky_feature"]], honest_scores),
        ):
            model = linear_model.LogisticRegression(max_iter=2000).fit(
                design_columns(logins, features), logins["is_ato"]
            )
            scores.append(pairwise_auc(model.predict_proba(design_columns(holdout, features))[:, 1], labels))
    assert min(honest_scores) >= top, honest_scores
    assert max(leaky_scores) < top, leaky_scores
    # Leaning on the leak costs a band or more, not a rounding error.
    assert np.median(leaky_scores) < top - 0.04 and np.median(honest_scores) > top + 0.06
