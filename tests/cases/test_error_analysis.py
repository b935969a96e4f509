"""The error-analysis case: deterministic data, planted failures at their strengths, a correct key."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import time
import tomllib
from pathlib import Path
from types import ModuleType

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

from assessments.content.bundle import frame_csv

CASE = Path(__file__).resolve().parents[2] / "cases" / "error-analysis"
SIZE = 20000


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("case_error_analysis_generator", CASE / "generator.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def case_toml() -> dict:
    return tomllib.loads((CASE / "case.toml").read_text())


@pytest.fixture(scope="module")
def seeds_data(generator: ModuleType) -> dict[int, pd.DataFrame]:
    return {seed: generator.generate(seed, SIZE)["predictions"] for seed in range(8)}


@pytest.fixture(scope="module")
def plans(generator: ModuleType) -> dict[int, dict]:
    return {seed: generator.planted(seed, SIZE) for seed in range(8)}


# Independent computations: different formulations from the generator's, numpy only.


def pairwise_auc(values: np.ndarray, label: np.ndarray) -> float:
    """P(positive > negative) + 0.5 P(tie), counted with sorted searches."""
    negatives = np.sort(values[label == 0])
    positives = values[label == 1]
    below = np.searchsorted(negatives, positives, side="left")
    at_or_below = np.searchsorted(negatives, positives, side="right")
    return float((below + 0.5 * (at_or_below - below)).sum() / (len(positives) * len(negatives)))


def histogram_ece(score: np.ndarray, label: np.ndarray) -> float:
    """ECE from np.histogram, whose last bin is closed like the brief's.

    Scores have four decimals, so edges half a unit of the fourth decimal below k/10 put every score
    in its exact-arithmetic bin, whatever the float error of k/10.
    """
    edges = np.append(np.arange(10) / 10 - 0.00005, 1.0)
    count, _ = np.histogram(score, edges)
    score_sum, _ = np.histogram(score, edges, weights=score)
    label_sum, _ = np.histogram(score, edges, weights=label)
    used = count > 0
    return float((np.abs(score_sum[used] - label_sum[used])).sum() / count.sum())


def brute_force_threshold(score: np.ndarray, label: np.ndarray, target: float) -> float:
    """Try every observed score as a threshold."""
    ordered = np.sort(score)
    positives_above = np.cumsum(label[np.argsort(score, kind="stable")][::-1])[::-1]
    for t in np.unique(score):
        first = np.searchsorted(ordered, t, side="left")
        if positives_above[first] / (len(score) - first) >= target:
            return float(t)
    return float(score.max())


def confusion_by_language(frame: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    out = {}
    for lang, rows in frame.groupby("language"):
        flag = rows["score"].to_numpy() >= 0.5
        y = rows["label"].to_numpy() == 1
        tp, fp, fn = np.sum(flag & y), np.sum(flag & ~y), np.sum(~flag & y)
        p, r = tp / (tp + fp), tp / (tp + fn)
        out[str(lang)] = (p, r, 2 * tp / (2 * tp + fp + fn))
    return out


# Determinism and variety


def test_same_seed_gives_the_same_csv_bytes_and_other_seeds_differ(generator: ModuleType) -> None:
    first = frame_csv(generator.generate(7, 5000)["predictions"])
    assert frame_csv(generator.generate(7, 5000)["predictions"]) == first
    assert frame_csv(generator.generate(8, 5000)["predictions"]) != first


def test_fifty_seeds_give_fifty_different_datasets_and_keys(generator: ModuleType) -> None:
    data_hashes, key_dumps, worst, leaks, sources = set(), set(), set(), set(), set()
    for seed in range(50):
        frame = generator.generate(seed, 3000)["predictions"]
        data_hashes.add(hashlib.sha256(pd.util.hash_pandas_object(frame).to_numpy().tobytes()).hexdigest())
        key = generator.answer_key({"predictions": frame}, generator.hidden(seed, 3000))
        key_dumps.add(json.dumps(key, sort_keys=True, allow_nan=False))
        worst.add(key["worst_language"])
        leaks.add(key["leaky_feature"])
        sources.add(key["noisiest_label_source"])
    assert len(data_hashes) == 50 and len(key_dumps) == 50
    # The categorical answers vary between candidates, so one candidate's answers do not transfer.
    assert len(worst) >= 4 and len(leaks) >= 3 and len(sources) >= 2


def test_generation_and_key_are_fast(generator: ModuleType) -> None:
    # CPU time, not wall time: the machine running the suite may be busy.
    start = time.process_time()
    generator.answer_key(generator.generate(3, SIZE), generator.hidden(3, SIZE))
    assert time.process_time() - start < 1.0


# Planted failures, measured independently


def test_planted_language_has_by_far_the_lowest_recall(generator: ModuleType, seeds_data: dict, plans: dict) -> None:
    for seed, frame in seeds_data.items():
        weak = plans[seed]["weak_language"]
        recall = {lang: r for lang, (_, r, _) in confusion_by_language(frame).items()}
        others = [r for lang, r in recall.items() if lang != weak]
        assert recall[weak] < 0.6 * min(others), (seed, recall)
        # The closing notes quote the realised strength: it must be the one in the data.
        assert plans[seed]["realised"]["weak_language_recall"] == pytest.approx(recall[weak], abs=1e-12)


def test_planted_leak_separates_the_label_better_than_the_model(
    generator: ModuleType, seeds_data: dict, plans: dict
) -> None:
    for seed, frame in seeds_data.items():
        leak = plans[seed]["leaky_feature"]
        y = frame["label"].to_numpy()
        separation = {c: abs(pairwise_auc(frame[c].to_numpy(float), y) - 0.5) + 0.5 for c in generator.FEATURES}
        model = pairwise_auc(frame["score"].to_numpy(), y)
        assert separation[leak] > 0.85 and separation[leak] > model, (seed, separation, model)
        assert max(v for c, v in separation.items() if c != leak) < 0.75, (seed, separation)


def test_scores_are_overconfident_at_high_scores(seeds_data: dict) -> None:
    truth_gaps = []
    for seed, frame in seeds_data.items():
        score, y = frame["score"].to_numpy(), frame["label"].to_numpy()
        high = score >= 0.7
        assert score[high].mean() - y[high].mean() > 0.05, seed
        assert histogram_ece(score, y) > 0.01, seed
        # Against the truth (the audit, ~170 items per seed above 0.7) the gap is larger: the noisy
        # source's copying of the flag decision hides part of it from `label`.
        audited = frame.dropna(subset=["audit_label"])
        audited_high = audited["score"] >= 0.7
        truth_gaps.append(audited.loc[audited_high, "score"].mean() - audited.loc[audited_high, "audit_label"].mean())
    assert min(truth_gaps) > 0.02 and np.mean(truth_gaps) > 0.10, truth_gaps


def test_no_score_sits_on_an_interior_tenth_so_every_bin_edge_convention_agrees(seeds_data: dict) -> None:
    for seed, frame in seeds_data.items():
        scaled = frame["score"].to_numpy() * 10
        assert np.all(np.abs(scaled - np.round(scaled)) > 1e-6), seed
        assert frame["score"].between(0.0001, 0.9999).all(), seed
        score, y = frame["score"].to_numpy(), frame["label"].to_numpy()
        # pandas' default right-closed bins and numpy's histogram give the brief's value exactly.
        right_closed = pd.cut(frame["score"], np.linspace(0, 1, 11), include_lowest=True)
        table = frame.groupby(right_closed, observed=True).agg(
            n=("score", "size"), s=("score", "mean"), y=("label", "mean")
        )
        assert float((table.n * (table.s - table.y).abs()).sum() / len(frame)) == pytest.approx(
            histogram_ece(score, y), abs=1e-12
        )


def test_planted_label_source_disagrees_with_the_audit_far_more_often(
    generator: ModuleType, seeds_data: dict, plans: dict
) -> None:
    for seed, frame in seeds_data.items():
        noisy = plans[seed]["noisy_source"]
        audited = frame.dropna(subset=["audit_label"])
        disagrees = audited["label"] != audited["audit_label"]
        rate = pd.crosstab(audited["label_source"], disagrees, normalize="index")[True]
        assert rate[noisy] > 2 * rate.drop(noisy).max(), (seed, rate.to_dict())


def test_the_noisy_source_agrees_with_the_model_less_often_than_an_honest_one_disagrees(
    seeds_data: dict, plans: dict
) -> None:
    # Automation bias: the noisy source copies the flag decision on many items, while the policy team
    # (escalated near-misses) and the report queue have hard items. So the model-agreement shortcut
    # names an honest source, and one whose labels are best.
    for seed, frame in seeds_data.items():
        noisy = plans[seed]["noisy_source"]
        flagged = (frame["score"] >= 0.5).astype(int)
        with_model = (flagged != frame["label"]).groupby(frame["label_source"]).mean()
        assert with_model.idxmax() != noisy and with_model[noisy] < with_model.max() / 2, (seed, with_model.to_dict())
        assert plans[seed]["realised"]["model_disagreement_by_source"] == pytest.approx(with_model.to_dict(), abs=1e-12)


# The key against independent computations


def test_answer_key_matches_independent_computations(generator: ModuleType, seeds_data: dict, plans: dict) -> None:
    for seed in (0, 3, 7):
        frame = seeds_data[seed]
        key = generator.answer_key({"predictions": frame}, generator.hidden(seed, SIZE))
        plan = plans[seed]
        expected = confusion_by_language(frame)
        for lang, (p, r, f1) in expected.items():
            assert key["precision_by_language"][lang] == pytest.approx(p, abs=1e-12)
            assert key["recall_by_language"][lang] == pytest.approx(r, abs=1e-12)
            assert key["f1_by_language"][lang] == pytest.approx(f1, abs=1e-12)
        score, y = frame["score"].to_numpy(), frame["label"].to_numpy()
        assert key["ece"] == pytest.approx(histogram_ece(score, y), abs=1e-12)
        assert key["threshold_for_precision"] == brute_force_threshold(score, y, 0.85)
        audited = frame.dropna(subset=["audit_label"])
        crosstab = pd.crosstab(audited["label_source"], audited["label"] != audited["audit_label"], normalize="index")
        assert key["audit_disagreement_by_source"] == pytest.approx(crosstab[True].to_dict(), abs=1e-12)
        assert key["worst_language"] == plan["weak_language"]
        assert key["leaky_feature"] == plan["leaky_feature"]
        assert key["noisiest_label_source"] == plan["noisy_source"]


def test_ece_of_a_hand_computed_example(generator: ModuleType) -> None:
    # Bins: 0 holds 0.05 (label 0), 1 holds 0.15 (label 1), 9 holds 0.95 and the closed edge 1.0.
    score = np.array([0.05, 0.15, 0.95, 1.0])
    label = np.array([0, 1, 1, 1])
    expected = (0.05 + 0.85 + 2 * 0.025) / 4
    assert generator.expected_calibration_error(score, label) == pytest.approx(expected)


def test_hidden_ece_calls_cover_the_edge_cases_and_their_key_matches_numpy_histograms(generator: ModuleType) -> None:
    for seed in (0, 5):
        key = generator.answer_key(generator.generate(seed, 1000), generator.hidden(seed, 1000))
        part = key["expected_calibration_error"]
        assert len(part["calls"]) == 8 and len(part["expected"]) == 8
        bin_counts = {call["kwargs"].get("n_bins", 10) for call in part["calls"]}
        assert {10, 5} <= bin_counts and len(bin_counts) >= 4 and {} in [c["kwargs"] for c in part["calls"]]
        scores = [s for call in part["calls"] for s in call["args"][0]]
        assert 0.0 in scores and 1.0 in scores
        assert any(sum(call["args"][1]) == 0 for call in part["calls"])
        for call, expected in zip(part["calls"], part["expected"], strict=True):
            score, label = np.array(call["args"][0]), np.array(call["args"][1])
            bins = call["kwargs"].get("n_bins", 10)
            interior = score[(score > 0) & (score < 1)] * bins
            assert np.all(np.abs(interior - np.round(interior)) > 1e-6), "a hidden score sits on a bin edge"
            # numpy's histogram: half-open bins, the last one closed, like the brief's definition.
            count, _ = np.histogram(score, np.linspace(0, 1, bins + 1))
            score_sum, _ = np.histogram(score, np.linspace(0, 1, bins + 1), weights=score)
            label_sum, _ = np.histogram(score, np.linspace(0, 1, bins + 1), weights=label)
            assert expected == pytest.approx(np.abs(score_sum - label_sum).sum() / count.sum(), abs=1e-12)
    first = frame_csv(generator.hidden(3, 1000)["ece_calls"])
    assert frame_csv(generator.hidden(3, 20000)["ece_calls"]) == first
    assert frame_csv(generator.hidden(4, 1000)["ece_calls"]) != first


def test_threshold_for_precision_of_a_hand_computed_example(generator: ModuleType) -> None:
    score = np.array([0.9, 0.8, 0.8, 0.6, 0.3])
    label = np.array([1, 0, 1, 1, 0])
    # score >= 0.9: 1/1; >= 0.8: 2/3; >= 0.6: 3/4; >= 0.3: 3/5.
    assert generator.threshold_for_precision(score, label, 0.75) == 0.6
    assert generator.threshold_for_precision(score, label, 0.7) == 0.6
    assert generator.threshold_for_precision(score, label, 0.6) == 0.3
    assert generator.threshold_for_precision(np.array([0.9, 0.4]), np.array([0, 1]), 0.75) == 0.9


# The case folder as a whole


def test_parts_match_the_key_the_notebook_and_the_brief(generator: ModuleType, case_toml: dict) -> None:
    data = generator.generate(1, SIZE)
    key = generator.answer_key(data, generator.hidden(1, SIZE))
    checkable = {p["id"] for p in case_toml["parts"] if "check" in p}
    written = {p["id"] for p in case_toml["parts"] if "guidance" in p}
    assert checkable == set(key) and not checkable & written and len(written) == 3
    nb = nbformat.read(CASE / "notebook.ipynb", as_version=4)
    nbformat.validate(nb)
    answers = [c.metadata["assess"]["answer"] for c in nb.cells if "answer" in c.metadata.get("assess", {})]
    responses = [c.metadata["assess"]["response"] for c in nb.cells if "response" in c.metadata.get("assess", {})]
    assert sorted(answers) == sorted(checkable) and sorted(responses) == sorted(written)
    brief = (CASE / "brief.md").read_text()
    for column in data["predictions"].columns:
        assert f"`{column}`" in brief, column
    for part in case_toml["parts"]:
        if part.get("check", {}).get("kind") == "choice":
            assert key[part["id"]] in part["check"]["options"]


def test_load_case_accepts_the_folder() -> None:
    case_module = pytest.importorskip("assessments.content.case")
    if not hasattr(case_module, "load_case"):
        pytest.skip("load_case is not written yet")
    checks = pytest.importorskip("assessments.grading.checks")
    spec = case_module.load_case(CASE, check_rules=checks.CHECK_RULES)
    assert spec.slug == "error-analysis" and len(spec.checkable_parts) == 10


# The author notebook reproduces the key


def passes(check: dict, got: object, want: object) -> bool:
    """The case.toml tolerance rule for the kinds this case uses (a function: its outputs on the calls)."""
    kind = check["kind"]
    if kind == "function":
        outputs = want["expected"]
        return len(got) == len(outputs) and all(
            abs(g - w) <= check["abs_tol"] for g, w in zip(got, outputs, strict=True)
        )
    if kind == "number":
        tol = max(check.get("abs_tol", 0.0), check.get("rel_tol", 0.0) * abs(want))
        return isinstance(got, (int, float)) and abs(got - want) <= tol
    if kind == "choice":
        return isinstance(got, str) and got.strip().lower() == str(want).lower()
    if kind == "table":
        tol = check.get("abs_tol", 0.0)
        return isinstance(got, dict) and set(got) == set(want) and all(abs(got[k] - want[k]) <= tol for k in want)
    raise AssertionError(kind)


def run_author_notebook(
    runs: dict[int, dict[str, pd.DataFrame]], workdir: Path, names: list[str], calls: dict[int, dict[str, list]]
) -> dict:
    """Run the notebook once per dataset in one kernel (one start-up); seed -> answer variables.

    A function part's answer is its outputs on that seed's hidden calls (``calls``: seed -> name -> calls).
    """
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
        dump = (
            f"import json\nanswers = {{n: globals()[n] for n in {names!r}}}\n"
            f"for name, each in {calls[seed]!r}.items():\n"
            "    answers[name] = [globals()[name](*c['args'], **c['kwargs']) for c in each]\n"
            "print(json.dumps(answers))"
        )
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
    keys = {seed: generator.answer_key(data, generator.hidden(seed, SIZE)) for seed, data in runs.items()}
    functions = {part_id for part_id, check in checks.items() if check["kind"] == "function"}
    calls = {seed: {name: key[name]["calls"] for name in functions} for seed, key in keys.items()}
    answers = run_author_notebook(runs, tmp_path, sorted(set(checks) - functions), calls)
    for seed in runs:
        key = keys[seed]
        for part_id, check in checks.items():
            got = answers[seed][part_id]
            assert passes(check, got, key[part_id]), (seed, part_id, got, key[part_id])
        assert math.isclose(answers[seed]["ece"], key["ece"], abs_tol=1e-9)


# Traps: each part rejects the shortcut it was written to catch (40 seeds, scored by the case's own checks)

TRAP_SEEDS = range(40)


@pytest.fixture(scope="module")
def trap_runs(generator: ModuleType) -> dict[int, tuple[pd.DataFrame, dict]]:
    runs = {}
    for seed in TRAP_SEEDS:
        data = generator.generate(seed, SIZE)
        runs[seed] = (data["predictions"], generator.answer_key(data, generator.hidden(seed, SIZE)))
    return runs


@pytest.fixture(scope="module")
def earns() -> object:
    """earns(part_id, value, key): True when the case's own check gives the value full marks."""
    case_module = pytest.importorskip("assessments.content.case")
    checks = pytest.importorskip("assessments.grading.checks")
    spec = case_module.load_case(CASE, check_rules=checks.CHECK_RULES)

    def full_marks(part_id: str, value: object, key: dict) -> bool:
        part = spec.part(part_id)
        return checks.score_check(part.check.kind, part.check.params, value, key[part_id], 1.0).earned >= 1.0

    return full_marks


def binned_ece(score: np.ndarray, label: np.ndarray, bin_index: np.ndarray, weighted: bool = True) -> float:
    table = (
        pd.DataFrame({"s": score, "y": label, "b": bin_index})
        .groupby("b")
        .agg(n=("s", "size"), s=("s", "mean"), y=("y", "mean"))
    )
    gaps = (table.s - table.y).abs()
    return float((gaps * table.n).sum() / table.n.sum()) if weighted else float(gaps.mean())


def test_ece_rejects_other_binnings_and_constant_guesses(trap_runs: dict, earns) -> None:
    eces = [key["ece"] for _, key in trap_runs.values()]
    passed: dict[str, int] = {}
    for frame, key in trap_runs.values():
        score, y = frame["score"].to_numpy(), frame["label"].to_numpy()
        audited = frame.dropna(subset=["audit_label"])
        others = {
            "quantile bins (10)": binned_ece(score, y, pd.qcut(score, 10, labels=False, duplicates="drop")),
            "quantile bins (15)": binned_ece(score, y, pd.qcut(score, 15, labels=False, duplicates="drop")),
            "unweighted mean over bins": binned_ece(score, y, np.minimum(np.floor(score * 10), 9), weighted=False),
            "audit labels": binned_ece(
                audited["score"].to_numpy(),
                audited["audit_label"].to_numpy(dtype=float),
                np.minimum(np.floor(audited["score"].to_numpy() * 10), 9),
            ),
            "median ECE over seeds": float(np.median(eces)),
            "mean ECE over seeds": float(np.mean(eces)),
        }
        for bins in (5, 8, 9, 12, 15, 20):
            others[f"{bins} equal-width bins"] = binned_ece(score, y, np.minimum(np.floor(score * bins), bins - 1))
        for name, value in others.items():
            passed[name] = passed.get(name, 0) + earns("ece", value, key)
        assert earns("ece", round(key["ece"], 4), key) and earns("ece", histogram_ece(score, y), key)
    # Measured: at most 2 of 40 for each (before this case's rework: quantile bins 37/40, a constant 17-19/40).
    assert max(passed.values()) <= 3, passed
    assert sum(passed.values()) <= 16, passed


def test_noisiest_label_source_needs_the_audit(trap_runs: dict, earns) -> None:
    passed = {
        "model flag disagreement": 0,
        "model disagreement without the policy team": 0,
        "mean |score - label|": 0,
        "lowest positive rate": 0,
        "model disagreement as the table": 0,
    }
    for frame, key in trap_runs.values():
        flagged = (frame["score"] >= 0.5).astype(int)
        with_model = (flagged != frame["label"]).groupby(frame["label_source"]).mean()
        passed["model flag disagreement"] += earns("noisiest_label_source", str(with_model.idxmax()), key)
        passed["model disagreement without the policy team"] += earns(
            "noisiest_label_source", str(with_model.drop("policy_team").idxmax()), key
        )
        gap = (frame["score"] - frame["label"]).abs().groupby(frame["label_source"]).mean()
        passed["mean |score - label|"] += earns("noisiest_label_source", str(gap.idxmax()), key)
        positive_rate = frame.groupby("label_source")["label"].mean()
        passed["lowest positive rate"] += earns("noisiest_label_source", str(positive_rate.idxmin()), key)
        passed["model disagreement as the table"] += earns(
            "audit_disagreement_by_source", {k: float(v) for k, v in with_model.items()}, key
        )
    # Before the rework the model-agreement shortcut found the noisy source on 40/40 seeds.
    assert passed["model flag disagreement"] == 0 and passed["mean |score - label|"] == 0, passed
    assert passed["model disagreement without the policy team"] <= 2, passed
    assert passed["model disagreement as the table"] == 0, passed
    # The positive rate is no better than a guess among three sources.
    assert passed["lowest positive rate"] <= 18, passed


def test_threshold_from_another_split_or_a_constant_does_not_pass(
    generator: ModuleType, trap_runs: dict, earns
) -> None:
    thresholds = [key["threshold_for_precision"] for _, key in trap_runs.values()]
    passed: dict[str, int] = {}
    for frame, key in trap_runs.values():
        audited = frame.dropna(subset=["audit_label"])
        subsets = {
            "weeks 1-4": (frame[frame["week"] <= 4], "label"),
            "week 8": (frame[frame["week"] == 8], "label"),
            "audited rows": (audited, "label"),
            "audit labels": (audited, "audit_label"),
        }
        for name, (rows, column) in subsets.items():
            value = generator.threshold_for_precision(
                rows["score"].to_numpy(), rows[column].to_numpy(dtype=int), generator.TARGET_PRECISION
            )
            passed[name] = passed.get(name, 0) + earns("threshold_for_precision", value, key)
        passed["median over seeds"] = passed.get("median over seeds", 0) + earns(
            "threshold_for_precision", float(np.median(thresholds)), key
        )
    assert max(passed.values()) <= 1, passed


def test_guessable_parts_weigh_little_and_their_truth_varies(case_toml: dict, trap_runs: dict) -> None:
    points = {p["id"]: p["points"] for p in case_toml["parts"] if "check" in p}
    choices = {p["id"]: p["check"]["options"] for p in case_toml["parts"] if p.get("check", {}).get("kind") == "choice"}
    for part_id in choices:
        truths = pd.Series([key[part_id] for _, key in trap_runs.values()]).value_counts()
        # No single guess is right on much more than a third of the seeds, and a guess is worth 1 point of 14.
        assert truths.iloc[0] <= 0.4 * len(trap_runs) and len(truths) >= 3, (part_id, truths.to_dict())
        assert points[part_id] == 1, part_id
    assert sum(points.values()) == 14
    # A choice read off a computed table counts only with that table (the pipeline's rests_on).
    rests_on = {p["id"]: p.get("rests_on", []) for p in case_toml["parts"]}
    assert rests_on["worst_language"] == ["recall_by_language"]
    assert rests_on["noisiest_label_source"] == ["audit_disagreement_by_source"]
