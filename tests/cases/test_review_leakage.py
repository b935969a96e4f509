"""The methodology review case: seeded plans, a flawed notebook that runs, a key nothing candidate-facing reveals."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient
from scipy.stats import chisquare

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
    return {seed: generator.answer_key(data)["flagged_defects"] for seed, data in datasets.items()}


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


# What each defect looks like in code, written independently of the generator's templates.
PATTERNS: dict[str, Callable[[str], bool]] = {
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


def test_key_matches_planted_and_survives_a_csv_round_trip(generator: ModuleType, keys: dict[int, list[str]]) -> None:
    for seed in (0, 7, 19):
        data = generator.generate(seed, SIZE)
        assert generator.planted(seed, SIZE)["flagged_defects"] == keys[seed]
        reread = {stem: pd.read_csv(io.BytesIO(frame_csv(frame))) for stem, frame in data.items()}
        shuffled = {stem: frame.sample(frac=1.0, random_state=1) for stem, frame in reread.items()}
        assert generator.answer_key(shuffled)["flagged_defects"] == keys[seed]
        # A different size of the same seed plants the same defects in the same cells.
        assert generator.answer_key(generator.generate(seed, 1000))["flagged_defects"] == keys[seed]


def test_each_planted_label_names_a_cell_that_holds_that_defect(
    generator: ModuleType, datasets: dict[int, dict[str, pd.DataFrame]], keys: dict[int, list[str]]
) -> None:
    for seed in SEEDS:
        cells = analysis_cells(generator, seed, datasets[seed])
        planted = dict(label.split(":")[::-1] for label in keys[seed])
        for defect, matches in PATTERNS.items():
            holding = {label for label, source in cells.items() if matches(source)}
            want = {planted[defect]} if defect in planted else set()
            assert holding == want, (seed, defect, holding, want)


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
    for secret in ("customer_id", "default_rng", "planted_labels", "HOME_TITLES"):
        assert secret not in release
    assert not re.search(r"C\d+:({})".format("|".join(map(re.escape, generator.DEFECT_CATALOGUE))), release)


def test_blanket_flagging_scores_little_and_a_full_review_scores_all(
    generator: ModuleType, datasets: dict[int, dict[str, pd.DataFrame]], keys: dict[int, list[str]]
) -> None:
    from assessments.content.case import load_case
    from assessments.grading.checks import CHECK_RULES, score_check

    check = load_case(CASE, check_rules=CHECK_RULES).part("flagged_defects").check
    for seed in range(10):
        cells = analysis_cells(generator, seed, datasets[seed])
        home = {LABEL.match(s.splitlines()[0]).group(2): label for label, s in cells.items()}
        everything = [f"{home[title]}:{defect}" for defect, title in generator.HOME_TITLES.items()]
        assert score_check(check.kind, check.params, [k.upper() for k in keys[seed]], keys[seed], 10).earned == 10
        assert score_check(check.kind, check.params, everything, keys[seed], 10).earned <= 2.0


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


def test_flawed_notebooks_are_valid_and_run_on_their_data(kernel_run: dict) -> None:
    assert len(kernel_run["flawed"]) == 2
    for seed, notebook in kernel_run["flawed"].items():
        nbformat.validate(notebook)
        printed = kernel_run["outputs"][seed]
        assert "AUC:" in printed and "renewal control" in printed, printed


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
