"""The methodology review case: seeded plans, a flawed notebook that runs, a key nothing candidate-facing reveals."""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient
from scipy.stats import chisquare, hypergeom

from assessments.content.bundle import frame_csv

CASE = Path(__file__).resolve().parents[2] / "cases" / "review-leakage"
SIZE = 1500
SEEDS = range(50)
LABEL = re.compile(r"^#+ \[(C\d+)\] (.+)$")


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    name = "case_review_leakage_generator"
    spec = importlib.util.spec_from_file_location(name, CASE / "generator.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the generator's dataclass looks its module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def datasets(generator: ModuleType) -> dict[int, dict[str, pd.DataFrame]]:
    """seed -> the candidate's frames."""
    return {seed: generator.generate(seed, SIZE) for seed in SEEDS}


@pytest.fixture(scope="module")
def keys(generator: ModuleType, datasets: dict[int, dict[str, pd.DataFrame]]) -> dict[int, list[str]]:
    """seed -> the answer key, computed from the generated data as the grader does."""
    return {
        seed: generator.answer_key(data, generator.hidden(seed, SIZE))["flagged_defects"]
        for seed, data in datasets.items()
    }


def analysis_cells(generator: ModuleType, seed: int, data: dict[str, pd.DataFrame]) -> dict[str, str]:
    """label -> source of the seed's analysis.ipynb, read from the bytes the bundle ships."""
    raw = generator.extra_files(seed, data)["analysis.ipynb"]
    notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
    cells = {}
    for cell in notebook.cells:
        match = LABEL.match(cell.source.splitlines()[0])
        assert match, f"seed {seed}: a cell without a label line: {cell.source[:60]!r}"
        cells[match.group(1)] = cell.source
    assert list(cells) == [f"C{i}" for i in range(1, len(cells) + 1)], f"seed {seed}: labels must count up from C1"
    return cells


# How a careful reviewer decides each step, written independently of the generator's templates:
# by following the names a step uses back to where the notebook defines them, and by checking the
# data the step runs on. `step_cells` finds each step's cell by its title, as a reader would.
SPLIT_LINE = re.compile(r"^(\w+), (\w+), (\w+), (\w+) = train_test_split\((\w+), (\w+),", re.M)


def step_cells(generator: ModuleType, cells: dict[str, str]) -> dict[str, tuple[str, str]]:
    """catalogue id -> (label, source) of the cell doing that step."""
    title_of = {title: step for step, titles in generator.STEP_TITLES.items() for title in titles}
    found = {}
    for label, source in cells.items():
        title = LABEL.match(source.splitlines()[0]).group(2)
        if title in title_of:
            found[title_of[title]] = (label, source)
    assert set(found) == set(generator.DEFECT_CATALOGUE)
    return found


def _one(pattern: str, source: str) -> str:
    match = re.search(pattern, source, re.M)
    assert match, (pattern, source)
    return match.group(1)


def reviewer_flags(generator: ModuleType, cells: dict[str, str], data: dict[str, pd.DataFrame]) -> list[str]:
    """The flags a careful reviewer raises: a methodology judgement per step, no template knowledge."""
    steps = step_cells(generator, cells)
    src = {step: source for step, (_, source) in steps.items()}
    train, _, _, _, full, _ = SPLIT_LINE.search(src["random-split-on-time"]).groups()
    customers, experiment = data["customers"], data["experiment"]
    snapshot = pd.to_datetime(customers["snapshot_date"])
    call_dates = pd.to_datetime(customers["retention_call_date"])
    counts = experiment["arm"].value_counts()
    scaled_from = dict(
        re.findall(r"^(\w+) = scaler\.transform\((\w+)\.fillna", src["preprocessing-on-full-data"], re.M)
    )
    metric_of = {
        name: kind
        for name, kind in re.findall(r"^(\w+) = (accuracy_score|1 - |\w+\[called\])", src["metric-mismatch"], re.M)
    }
    ready_left = _one(r"^ready = (\w+) > ", src["metric-mismatch"])
    raw_p = _one(r'"(\w+)": stats\.chi2_contingency', src["multiple-comparisons"])
    flawed = {
        "target-leakage": '"retention_call_logged"' in src["target-leakage"] and bool((call_dates > snapshot).any()),
        "random-split-on-time": not snapshot.is_monotonic_increasing,
        "preprocessing-on-full-data": _one(r"^medians = (\w+)\.median\(\)", src["preprocessing-on-full-data"]) == full,
        "eval-on-train": scaled_from[_one(r"predict_proba\((\w+)\)", src["eval-on-train"])] == train,
        "metric-mismatch": metric_of.get(ready_left) == "accuracy_score",
        "ignored-srm": chisquare(counts[["control", "treatment"]]).pvalue < 1e-3,
        "peeking": _one(r"^final = .*<= (\w+)\]$", src["peeking"]) == _one(r"^for (\w+) in sorted", src["peeking"]),
        "survivorship-bias": _one(r"^revenue = (\w+)\.groupby", src["survivorship-bias"])
        == _one(r'^(\w+) = \w+\[\w+\["renewed"\] == 1\]', src["survivorship-bias"]),
        "multiple-comparisons": _one(r'segments\["significant"\] = segments\["(\w+)"\]', src["multiple-comparisons"])
        == raw_p,
    }
    return sorted(f"{steps[step][0]}:{step}" for step, bad in flawed.items() if bad)


def test_same_seed_gives_the_same_bytes(generator: ModuleType) -> None:
    for seed in (3, 41):
        first, again = generator.generate(seed, SIZE), generator.generate(seed, SIZE)
        assert {k: frame_csv(v) for k, v in first.items()} == {k: frame_csv(v) for k, v in again.items()}
        assert generator.extra_files(seed, first) == generator.extra_files(seed, again)
    other = generator.extra_files(41, generator.generate(41, SIZE))
    assert generator.extra_files(3, generator.generate(3, SIZE)) != other


def test_seeds_plant_different_defects_in_different_cells(generator: ModuleType, keys: dict[int, list[str]]) -> None:
    subsets = {tuple(sorted(label.split(":")[1] for label in key)) for key in keys.values()}
    assert len({tuple(key) for key in keys.values()}) >= 45
    assert len(subsets) >= 25
    assert all(3 <= len(key) <= 5 for key in keys.values())
    cells_of: dict[str, set[str]] = {}
    seeds_planting: dict[str, int] = {}
    for key in keys.values():
        for label in key:
            cell, defect = label.split(":")
            cells_of.setdefault(defect, set()).add(cell)
            seeds_planting[defect] = seeds_planting.get(defect, 0) + 1
    # Every defect is planted by some seeds and missing in others, and it moves between cells.
    assert set(seeds_planting) == set(generator.DEFECT_CATALOGUE)
    assert all(count < len(SEEDS) for count in seeds_planting.values()), seeds_planting
    assert all(len(cells) >= 3 for cells in cells_of.values()), cells_of


def test_the_key_is_the_seeds_hidden_frame_not_a_function_of_the_data(
    generator: ModuleType, keys: dict[int, list[str]]
) -> None:
    for seed in (0, 7, 19):
        assert generator.planted(seed, SIZE)["flagged_defects"] == keys[seed]
        # The data is not read: nothing a candidate holds is an input the key is computed from.
        other_data = generator.generate(seed + 1, SIZE)
        assert generator.answer_key(other_data, generator.hidden(seed, SIZE))["flagged_defects"] == keys[seed]
        # A different size of the same seed plants the same defects in the same cells.
        assert generator.hidden(seed, 1000)["planted_flags"]["flag"].tolist() == keys[seed]
    from assessments.content.case import load_case
    from assessments.grading.checks import CHECK_RULES

    case = load_case(CASE, check_rules=CHECK_RULES)
    with pytest.raises(ValueError, match="hidden frames"):
        case.answer_key(case.generate(0))


def test_a_careful_reviewer_finds_exactly_the_planted_defects(
    generator: ModuleType, keys: dict[int, list[str]]
) -> None:
    for seed in SEEDS:
        data = generator.generate(seed, 5000)  # the case's default size: the SRM test has its power there
        cells = analysis_cells(generator, seed, data)
        assert reviewer_flags(generator, cells, data) == keys[seed], seed


def test_leaked_calls_and_unordered_rows_are_in_the_data_exactly_when_planted(
    generator: ModuleType, datasets: dict[int, dict[str, pd.DataFrame]], keys: dict[int, list[str]]
) -> None:
    seen = set()
    for seed in SEEDS:
        customers = datasets[seed]["customers"]
        planted = {label.split(":")[1] for label in keys[seed]}
        after = pd.to_datetime(customers["retention_call_date"]) > pd.to_datetime(customers["snapshot_date"])
        leak = "target-leakage" in planted
        # A leaked call happens between the snapshot and the renewal, mostly to churners.
        assert after.any() == leak and (after.sum() == customers["retention_call_logged"].sum()) == leak, seed
        holdout = customers["snapshot_date"].iloc[-len(customers) // 4 :]
        assert (holdout.nunique() == len(generator.MONTHS)) == ("random-split-on-time" in planted), seed
        seen.add((leak, "random-split-on-time" in planted))
    assert len(seen) == 4


def test_the_srm_is_in_the_data_exactly_when_the_notebook_ignores_it(
    generator: ModuleType, keys: dict[int, list[str]]
) -> None:
    seen = set()
    for seed in range(8):
        counts = generator.generate(seed, 5000)["experiment"]["arm"].value_counts()
        p_value = chisquare(counts[["control", "treatment"]]).pvalue
        ignored = any(label.endswith(":ignored-srm") for label in keys[seed])
        assert (p_value < 1e-3) == ignored, (seed, p_value, ignored)
        seen.add(ignored)
    assert seen == {True, False}


def test_nothing_the_candidate_gets_reveals_the_plan(
    generator: ModuleType, datasets: dict[int, dict[str, pd.DataFrame]], keys: dict[int, list[str]]
) -> None:
    defect_ids = list(generator.DEFECT_CATALOGUE)
    headers = set()
    for seed, data in datasets.items():
        notebook = generator.extra_files(seed, data)["analysis.ipynb"].decode()
        texts = [notebook]
        if seed < 10:  # serialising CSVs is the slow part; ten seeds cover both SRM states
            csvs = [frame_csv(frame).decode() for frame in data.values()]
            headers.add(tuple(text.splitlines()[0] for text in csvs))
            texts += csvs
        for text in texts:
            assert not any(defect in text for defect in defect_ids), seed
            assert not any(label in text for label in keys[seed]), seed
        parsed = json.loads(notebook)
        assert set(parsed["metadata"]) == {"kernelspec", "language_info"}
        assert all(cell["metadata"] == {} for cell in parsed["cells"])
    assert len(headers) == 1, "the files' columns must not depend on the plan"
    brief = (CASE / "brief.md").read_text(encoding="utf-8")
    assert all(f"`{defect}`" in brief for defect in defect_ids)
    assert not re.search(r"C\d+:({})".format("|".join(map(re.escape, defect_ids))), brief)


def test_case_loads_and_its_release_notebook_keeps_no_solution(generator: ModuleType) -> None:
    from assessments.content.case import load_case
    from assessments.content.notebook import release_notebook
    from assessments.grading.checks import CHECK_RULES

    case = load_case(CASE, check_rules=CHECK_RULES)
    assert case.kind == "review" and case.hiring and case.practice
    assert [p.id for p in case.checkable_parts] == ["flagged_defects"]
    release = nbformat.writes(release_notebook(case))
    for secret in ("customer_id", "default_rng", "planted_labels", "STEP_TITLES"):
        assert secret not in release
    assert not re.search(r"C\d+:({})".format("|".join(map(re.escape, generator.DEFECT_CATALOGUE))), release)


# The pattern-matching flagger of issue #14, written before the fix against the generator's fixed
# strings: it scored 10/10 on every seed. It must now do no better than chance.
PRE_FIX_PATTERNS: dict[str, Callable[[str], bool]] = {
    "target-leakage": lambda s: re.search(r'FEATURES = \[[^\]]*"retention_call_logged"', s) is not None,
    "random-split-on-time": lambda s: "train_test_split(" in s,
    "preprocessing-on-full-data": lambda s: re.search(r"\bX\.median\(\)|\.fit\(X\.", s) is not None,
    "eval-on-train": lambda s: "roc_auc_score(y_train" in s,
    "metric-mismatch": lambda s: "accuracy_score(" in s,
    "ignored-srm": lambda s: 'experiment["arm"].value_counts()' in s and "chisquare" not in s,
    "peeking": lambda s: "break" in s and "chi2_contingency" in s,
    "survivorship-bias": lambda s: '["renewed"] == 1' in s,
    "multiple-comparisons": lambda s: 'segments["p_value"] < 0.05' in s,
}
SCORED_SEEDS = range(40)
TRAINING_SEEDS = range(1000, 1400)  # the fixed-string flagger learns on other seeds than it is scored on


def pre_fix_flagger(generator: ModuleType, cells: dict[str, str]) -> list[str]:
    """Every (cell, defect) whose pre-fix pattern matches the cell's text."""
    return sorted({f"{label}:{d}" for label, s in cells.items() for d, match in PRE_FIX_PATTERNS.items() if match(s)})


def generator_fragments(generator: ModuleType) -> list[str]:
    """Every fixed string of the generator's source, as a reader would grep for it.

    Each string literal is cut at its template placeholders and line ends; a fragment that is a
    plain name (a pool's variable name, a column) matches as a whole word, anything else as text.
    """
    tree = ast.parse(Path(generator.__file__).read_text(encoding="utf-8"))
    fragments = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for piece in re.split(r"\$\w+|\$\{\w+\}|\n", node.value):
                if piece.strip():
                    fragments.add(piece.strip())
    return sorted(fragments)


def fragments_in(source: str, fragments: list[str]) -> frozenset[int]:
    """The indices of the fragments a cell holds (names as whole words)."""
    words = set(re.findall(r"\w+", source))
    return frozenset(i for i, f in enumerate(fragments) if (f in words if re.fullmatch(r"\w+", f) else f in source))


def learn_fixed_string_flagger(generator: ModuleType) -> Callable[[dict[str, str]], list[str]]:
    """A naive Bayes flagger over the generator's fixed strings, learned from 400 seeds' notebooks.

    For each step it estimates, from the notebooks of other seeds and their keys, how often each
    fixed string appears in the step's cell when the step is flawed and when it is correct, and then
    flags a cell when the strings it holds make "flawed" the likelier reading. This is the best a
    reader can do who greps this repository's text instead of reviewing the analysis.
    """
    fragments = generator_fragments(generator)
    present: dict[str, list[tuple[bool, frozenset[int]]]] = {step: [] for step in generator.DEFECT_CATALOGUE}
    for seed in TRAINING_SEEDS:
        flawed_cells = generator.flawed_cells(seed)
        planted = {str(c["defect"]) for c in flawed_cells if c["defect"]}
        cells = {str(c["label"]): str(c["source"]) for c in flawed_cells}
        for step, (_, source) in step_cells(generator, cells).items():
            present[step].append((step in planted, fragments_in(source, fragments)))
    model: dict[str, tuple[float, dict[int, tuple[float, float]]]] = {}
    for step, rows in present.items():
        flawed = [hits for bad, hits in rows if bad]
        correct = [hits for bad, hits in rows if not bad]
        prior = np.log(len(flawed) / len(correct))
        weights = {}
        for i in set().union(*(hits for _, hits in rows)):
            rate_f = (sum(i in hits for hits in flawed) + 1) / (len(flawed) + 2)
            rate_c = (sum(i in hits for hits in correct) + 1) / (len(correct) + 2)
            if abs(rate_f - rate_c) >= 0.1:
                weights[i] = (np.log(rate_f / rate_c), np.log((1 - rate_f) / (1 - rate_c)))
        model[step] = (prior, weights)

    def flag(cells: dict[str, str]) -> list[str]:
        flags = []
        for step, (label, source) in step_cells(generator, cells).items():
            prior, weights = model[step]
            hits = fragments_in(source, fragments)
            evidence = prior + sum(yes if i in hits else no for i, (yes, no) in weights.items())
            if evidence > 0:
                flags.append(f"{label}:{step}")
        return sorted(flags)

    return flag


@pytest.fixture(scope="module")
def fixed_string_flagger(generator: ModuleType) -> Callable[[dict[str, str]], list[str]]:
    """The fixed-string flagger, learned once per module."""
    return learn_fixed_string_flagger(generator)


def random_flags_score(catalogue_size: int, planted: int, flags: int, points: float) -> tuple[float, float]:
    """Chance: the mean and variance of the score of `flags` distinct flags drawn at random.

    The flags are drawn from the strongest guesses a reader has without reviewing: one per catalogue
    defect, on the cell that does that step (found by its title). Of those, `planted` are right; the
    score follows the case's rule, recall minus the false-flag rate over the absent defects.
    """
    drawn = min(flags, catalogue_size)
    found = np.arange(0, min(planted, drawn) + 1)
    weights = hypergeom.pmf(found, catalogue_size, planted, drawn)
    false_rate = np.minimum(1.0, (flags - found) / (catalogue_size - planted))
    scores = points * np.clip(found / planted - false_rate, 0.0, 1.0)
    mean = float((weights * scores).sum())
    return mean, float((weights * (scores - mean) ** 2).sum())


@pytest.fixture(scope="module")
def flags_check(generator: ModuleType):
    from assessments.content.case import load_case
    from assessments.grading.checks import CHECK_RULES

    return load_case(CASE, check_rules=CHECK_RULES).part("flagged_defects").check


def _score(check, flags: list[str], key: list[str]) -> float:
    from assessments.grading.checks import score_check

    return score_check(check.kind, check.params, flags, key, 10).earned


@pytest.mark.parametrize("flagger_name", ["pre-fix patterns", "fixed strings"])
def test_pattern_matching_flaggers_score_no_better_than_chance(
    generator: ModuleType, flags_check, fixed_string_flagger, flagger_name: str
) -> None:
    flagger = (
        fixed_string_flagger if flagger_name == "fixed strings" else lambda cells: pre_fix_flagger(generator, cells)
    )
    scores, chance, variance = [], [], []
    for seed in SCORED_SEEDS:
        data = generator.generate(seed, 1000)
        key = generator.answer_key(data, generator.hidden(seed, 1000))["flagged_defects"]
        flags = flagger(analysis_cells(generator, seed, data))
        scores.append(_score(flags_check, flags, key))
        mean, var = random_flags_score(len(generator.DEFECT_CATALOGUE), len(key), len(flags), 10)
        chance.append(mean)
        variance.append(var)
    # No better than chance: the flagger's mean is within two standard errors of what random
    # flags of the same number, on the same seeds, would score on average.
    margin = 2 * np.sqrt(sum(variance)) / len(SCORED_SEEDS)
    assert np.mean(scores) <= np.mean(chance) + margin, (flagger_name, np.mean(scores), np.mean(chance), margin)


def test_flagging_every_step_scores_nothing_and_the_true_flags_score_full_marks(
    generator: ModuleType, flags_check
) -> None:
    for seed in SCORED_SEEDS:
        data = generator.generate(seed, 1000)
        key = generator.answer_key(data, generator.hidden(seed, 1000))["flagged_defects"]
        cells = analysis_cells(generator, seed, data)
        everything = [f"{label}:{step}" for step, (label, _) in step_cells(generator, cells).items()]
        assert _score(flags_check, everything, key) == 0, seed
        assert _score(flags_check, key, key) == 10, seed
        written = [f"  cell {k.split(':')[0][1:]} - {k.split(':')[1].replace('-', ' ').title()}  " for k in key]
        assert _score(flags_check, written, key) == 10, seed


def test_the_case_catalogue_is_the_generators(generator: ModuleType, flags_check) -> None:
    assert flags_check.params["catalogue"] == list(generator.DEFECT_CATALOGUE)


def bundle_folder(generator: ModuleType, seed: int, folder: Path) -> None:
    """Write the seed's CSVs and analysis.ipynb into `folder`, as the bundle does."""
    data = generator.generate(seed, SIZE)
    folder.mkdir()
    for stem, frame in data.items():
        (folder / f"{stem}.csv").write_bytes(frame_csv(frame))
    for name, content in generator.extra_files(seed, data).items():
        (folder / name).write_bytes(content)


AUTHOR_SEED = 23


@pytest.fixture(scope="module")
def kernel_run(
    generator: ModuleType, keys: dict[int, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    """Two seeds' flawed notebooks and the author notebook, each run on its own bundle folder.

    One kernel runs all three, each from an empty namespace in its own folder: the imports are
    most of the run time and are paid once. An error in any cell fails the run.
    """
    root = tmp_path_factory.mktemp("review-leakage")
    # Two seeds that between them plant most of the catalogue, ignored SRM included.
    planted = {seed: {label.split(":")[1] for label in key} for seed, key in keys.items()}
    first = max((s for s in SEEDS if "ignored-srm" in planted[s]), key=lambda s: len(planted[s]))
    second = max((s for s in SEEDS if s != first), key=lambda s: len(planted[s] - planted[first]))
    combined = nbformat.v4.new_notebook()
    flawed: dict[int, nbformat.NotebookNode] = {}
    spans: dict[object, tuple[int, int]] = {}
    for seed in (first, second, AUTHOR_SEED):
        folder = root / str(seed)
        bundle_folder(generator, seed, folder)
        if seed == AUTHOR_SEED:
            notebook = nbformat.read(CASE / "notebook.ipynb", as_version=4)
            dump = "import json as _json\nprint(_json.dumps(flagged_defects))"
            notebook.cells.append(nbformat.v4.new_code_cell(dump))
        else:
            notebook = flawed[seed] = nbformat.read(folder / "analysis.ipynb", as_version=4)
        combined.cells.append(nbformat.v4.new_code_cell(f"%reset -f\n%cd {folder}"))
        start = len(combined.cells)
        spans["author" if seed == AUTHOR_SEED else seed] = (start, start + len(notebook.cells))
        combined.cells += [copy.deepcopy(cell) for cell in notebook.cells]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PLATFORM_DIRS", "1")
        resources = {"metadata": {"path": str(root)}}
        NotebookClient(combined, kernel_name="python3", timeout=120, resources=resources).execute()
    outputs = {
        name: "".join(o.get("text", "") for cell in combined.cells[a:b] for o in cell.get("outputs", []))
        for name, (a, b) in spans.items()
    }
    return {"flawed": flawed, "outputs": outputs}


def test_flawed_notebooks_are_valid_and_run_on_their_data(kernel_run: dict, keys: dict[int, list[str]]) -> None:
    assert len(kernel_run["flawed"]) == 2
    for seed, notebook in kernel_run["flawed"].items():
        nbformat.validate(notebook)
        printed = kernel_run["outputs"][seed]
        assert "AUC:" in printed and "renewal control" in printed, printed
        # Running the notebook shows a data-planted defect: a holdout drawn from every month.
        split_planted = any(label.endswith(":random-split-on-time") for label in keys[seed])
        assert ("from 12 snapshot months" in printed) == split_planted, printed


def test_author_notebook_assigns_the_key(kernel_run: dict, keys: dict[int, list[str]]) -> None:
    printed = kernel_run["outputs"]["author"].strip().splitlines()[-1]
    assert json.loads(printed) == keys[AUTHOR_SEED]


def test_the_browser_exercise_reads_the_case_not_the_generators_module(monkeypatch: pytest.MonkeyPatch) -> None:
    from assessments.content.case import load_case
    from assessments.grading.checks import CHECK_RULES
    from assessments.services import review_exercise as review

    case = load_case(CASE, check_rules=CHECK_RULES)
    # The exercise's hooks travel on the spec: nothing looks the generator up by module name.
    monkeypatch.delitem(sys.modules, case.generate_fn.__module__)
    assert review.is_review_case(case)
    planted = review.planted_flags(case, 3)
    assert planted and {f.defect for f in planted} <= set(review.defect_catalogue(case))
    assert review.score_flags(case, 3, planted).earned == case.part("flagged_defects").points
    assert {e.outcome for e in review.explain_defects(case, 3, planted)} == {"found"}


def test_notebook_flags_are_explained_as_the_check_reads_them() -> None:
    from assessments.content.case import load_case
    from assessments.grading.checks import CHECK_RULES
    from assessments.services import review_exercise as review

    case = load_case(CASE, check_rules=CHECK_RULES)
    first, *rest = review.planted_flags(case, 3)
    lenient = f"cell {first.label[1:]} - {first.defect.replace('-', ' ').upper()}"
    answers = [lenient, "C99:peeking", "C3:data-snooping", "see my notes"]
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell(f"flagged_defects = {answers!r}"))
    notebook.cells[0].metadata["assess"] = {"answer": "flagged_defects"}
    flags = review.flags_from_notebook(notebook, "flagged_defects")
    assert flags is not None
    outcomes = {(e.label, e.outcome): e for e in review.explain_defects(case, 3, flags)}
    assert (first.label, "found") in outcomes
    assert all((f.label, "missed") in outcomes for f in rest)
    assert (("C99", "false-flag") in outcomes) and "no cell C99" in outcomes["C99", "false-flag"].explanation
    assert "not in the catalogue" in outcomes["C3", "false-flag"].explanation
    assert ("see my notes", "unreadable") in outcomes
    report = review.score_flags(case, 3, flags)
    assert 'could not read 1 item(s) as "C<n>:<defect-id>"' in report.checks[0].message
