"""Integrity report at scale: near-duplicate code by MinHash LSH against comparing every pair, and the key scan.

    .venv/bin/python bench/integrity.py [--submissions 300] [--copies 10] [--seed 1]

Code: N synthetic notebooks on the ab-readout starter, each filled with plausible pandas code of
its own (random idioms, names and steps), and `--copies` planted copies (names renamed, comments
added, re-spaced; half of them with as much new code again appended). The baseline measures every
pair exactly (N(N-1)/2 set intersections); ours measures only LSH's candidate pairs. Both start
from the same fingerprints, timed apart. Prints times, the ratio, and how many flagged pairs each
finds (LSH may miss a pair the exhaustive scan flags; the count says whether it did).

Keys: N submissions of the fixture case against N keys, 3% of them copied from another key, with a
quarter (then nearly all) of the rest wrong; the baseline checks every key for every submission,
ours skips submissions that match their own key and checks only the keys the index of every key's
numbers names. Prints times and the ratio, and that both flag the same; never fails on speed.
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import time
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assessments.content.case import load_case  # noqa: E402
from assessments.content.notebook import release_notebook  # noqa: E402
from assessments.grading import code_similarity as similarity  # noqa: E402
from assessments.grading import integrity  # noqa: E402
from assessments.grading.checks import CHECK_RULES  # noqa: E402

COLUMNS = ["user_id", "arm", "platform", "country", "day", "converted", "revenue", "latency_ms", "sessions"]
METHODS = ["mean", "sum", "count", "median", "std", "nunique", "max", "min"]
WORDS = ["rate", "lift", "stats", "by_arm", "daily", "seg", "tbl", "res", "tmp", "summary", "ctrl", "trt", "diff"]


def _name(rng: random.Random) -> str:
    return f"{rng.choice(WORDS)}_{rng.randrange(100)}"


def _statement(rng: random.Random, names: list[str]) -> str:
    source = rng.choice(names) if names and rng.random() < 0.5 else "df"
    col, other = rng.sample(COLUMNS, 2)
    kind = rng.randrange(6)
    if kind == 0:
        expr = f'{source}.groupby("{col}")["{other}"].{rng.choice(METHODS)}()'
    elif kind == 1:
        expr = f'{source}[{source}["{col}"] == "{rng.choice(["control", "treatment", "ios", "web"])}"]'
    elif kind == 2:
        expr = f'{source}.pivot_table(index="{col}", columns="{other}", values="converted", aggfunc="{rng.choice(METHODS)}")'
    elif kind == 3:
        expr = f'({source}["{col}"] - {source}["{other}"].{rng.choice(METHODS)}()) / {rng.randint(2, 999)}'
    elif kind == 4:
        expr = f'np.sqrt({source}["{col}"].var() / len({source}) + {rng.random():.3f})'
    else:
        expr = f'stats.chi2_contingency(pd.crosstab({source}["{col}"], {source}["{other}"]))[{rng.randrange(3)}]'
    name = _name(rng)
    names.append(name)
    return f"{name} = {expr}"


def _own_notebook(starter, rng: random.Random):
    notebook = copy.deepcopy(starter)
    names: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and "answer" in cell.metadata.get("assess", {}):
            part = cell.metadata["assess"]["answer"]
            lines = [_statement(rng, names) for _ in range(rng.randint(2, 6))]
            cell.source = "\n".join(lines + [f"{part} = {names[-1]}"])
    return notebook


def _copied(notebook, rng: random.Random, extra: bool):
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = cell.source
        for word in WORDS:
            source = source.replace(word + "_", word.upper() + "x_")
        source = "# my own work\n" + source.replace(" = ", "  =  ") + "  # done"
        if extra:
            source += "\n" + "\n".join(_statement(rng, []) for _ in range(source.count("\n") + 1))
        cell.source = source
    return notebook


def bench_code(n: int, copies: int, seed: int) -> None:
    rng = random.Random(seed)
    starter = release_notebook(load_case(ROOT / "cases" / "ab-readout", check_rules=CHECK_RULES))
    notebooks = {i: _own_notebook(starter, rng) for i in range(n)}
    planted = set()
    chosen = rng.sample(range(n), 2 * copies)  # no notebook is both copied and overwritten
    for k in range(copies):
        source, target = chosen[2 * k], chosen[2 * k + 1]
        notebooks[target] = _copied(notebooks[source], rng, extra=k % 2 == 1)
        planted.add(frozenset((source, target)))

    started = time.perf_counter()
    prints = {key: similarity.code_print(nb) for key, nb in notebooks.items()}
    starter_print = similarity.code_print(starter)
    own = similarity.own_shingles(prints, starter_print)
    fingerprint_s = time.perf_counter() - started

    started = time.perf_counter()
    exhaustive = [similarity.measure_pair(a, b, own, prints, starter_print) for a, b in combinations(own, 2)]
    exhaustive_found = {frozenset((m.left, m.right)) for m in exhaustive if m is not None}
    baseline_s = time.perf_counter() - started

    started = time.perf_counter()
    pairs = similarity.candidate_pairs(own)
    lsh = [similarity.measure_pair(a, b, own, prints, starter_print) for a, b in pairs]
    lsh_found = {frozenset((m.left, m.right)) for m in lsh if m is not None}
    ours_s = time.perf_counter() - started

    print(f"code, {n} notebooks, {copies} planted copies ({len(own) * (len(own) - 1) // 2} pairs)")
    print(f"  fingerprints (both):      {fingerprint_s:7.3f} s")
    print(f"  every pair, exactly:      {baseline_s:7.3f} s  flagged {len(exhaustive_found)}")
    print(f"  LSH candidates ({len(pairs):>5}):  {ours_s:7.3f} s  flagged {len(lsh_found)}")
    print(f"  ratio every-pair / LSH:   {baseline_s / ours_s:7.1f}x")
    print(
        f"  planted copies found: exhaustive {len(planted & exhaustive_found)}/{len(planted)}, "
        f"LSH {len(planted & lsh_found)}/{len(planted)}; LSH missed {len(exhaustive_found - lsh_found)} "
        f"of the exhaustive scan's flags"
    )


def bench_keys(n: int, seed: int) -> None:
    spec = load_case(ROOT / "tests" / "fixtures" / "cases" / "tiny-hiring", check_rules=CHECK_RULES)
    keys = {i: spec.key_for_seed(i) for i in range(n)}

    def cohort(wrong_share: float) -> dict[int, dict]:
        rng = random.Random(seed)
        answers = {}
        for i in range(n):
            roll = rng.random()
            if roll < 0.03:
                answers[i] = dict(keys[rng.choice([k for k in keys if k != i])])  # borrowed
            elif roll < 0.03 + wrong_share:
                wrong = rng.uniform(0.0, 0.4)
                answers[i] = {**keys[i], "treatment_rate": wrong, "arm_rates": {"control": 0.1, "treatment": wrong}}
            else:
                answers[i] = dict(keys[i])
        return answers

    def scan(answers: dict[int, dict], ours: bool) -> tuple[float, int]:
        started, flagged = time.perf_counter(), 0
        index = integrity.KeyIndex(spec, keys) if ours else None
        for i, given in answers.items():
            if ours and not integrity.could_be_borrowed(spec, given, keys[i]):
                continue
            others = index.candidates(given) if index is not None else list(keys)
            if any(j != i and integrity.borrowed_key(spec, given, keys[i], keys[j]) is not None for j in others):
                flagged += 1
        return time.perf_counter() - started, flagged

    for label, wrong_share in (("a quarter wrong", 0.22), ("all wrong", 0.97)):
        answers = cohort(wrong_share)
        baseline_s, baseline_flags = scan(answers, ours=False)
        ours_s, our_flags = scan(answers, ours=True)
        print(f"keys, {n} submissions x {n} keys, {label}")
        print(f"  every key for every submission:         {baseline_s:7.3f} s  flagged {baseline_flags}")
        print(f"  submissions off their key, indexed keys: {ours_s:7.3f} s  flagged {our_flags}")
        print(f"  ratio: {baseline_s / ours_s:7.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    bench_code(args.submissions, args.copies, args.seed)
    bench_keys(args.submissions, args.seed)


if __name__ == "__main__":
    main()
