"""The production-ML incident case: deterministic data, incidents present on balanced seeds at their
stated strengths, a key that matches an independent computation, an author notebook that reproduces
it, parts that reject the careless answers they were written to catch, an interviewer guide that
says what was planted, and a careless-analyst corpus graded through the real pipeline."""

from __future__ import annotations

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

CASE = Path(__file__).resolve().parents[2] / "cases" / "ml-incident"
SIZE = 40000
STUDY_SEEDS = range(40)
SEGMENTS = ("grocery", "electronics", "travel", "gaming", "fashion")
SOURCES = ("chargeback", "issuer_alert", "customer_dispute")
FEATURES = ("amount_usd", "device_age_days", "ip_risk")
EDGES = {
    "amount_usd": [10, 20, 40, 80, 160, 320, 640],
    "device_age_days": [1, 7, 30, 90, 180, 365, 730],
    "ip_risk": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
}


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ml_incident_generator", CASE / "generator.py")
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
def study(generator: ModuleType) -> list[tuple[dict, dict, pd.DataFrame]]:
    """(parameters, answer key, transactions) for each study seed at the default size."""
    rows = []
    for seed in STUDY_SEEDS:
        data = generator.generate(seed, SIZE)
        rows.append((generator._parameters(seed), generator.answer_key(data), data["transactions"]))
    return rows


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


def test_the_loader_accepts_the_case_and_its_guide(case: Any) -> None:
    assert case.slug == "ml-incident" and case.hiring and case.practice
    assert {p.id for p in case.checkable_parts} == set(case.answer_key(case.generate(3, 2000)))
    written = [p for p in case.parts if not p.checkable]
    assert {p.id for p in written} == {"incident_summary", "monitoring_plan", "retraining_plan"}
    assert all("production-ml" in p.dimensions or "responsible-ai" in p.dimensions for p in written)


def test_same_seed_gives_identical_bytes_and_seeds_differ(generator: ModuleType) -> None:
    def csv(seed: int) -> bytes:
        return generator.generate(seed, 2000)["transactions"].to_csv(index=False).encode()

    assert csv(5) == csv(5)
    assert len({csv(seed) for seed in range(20)}) == 20
    assert len({json.dumps(generator.answer_key(generator.generate(s, 2000)), sort_keys=True) for s in range(20)}) == 20


def test_too_small_a_size_is_refused(generator: ModuleType) -> None:
    with pytest.raises(ValueError, match="at least"):
        generator.generate(1, 100)


def test_data_matches_the_data_dictionary(study: list) -> None:
    _, _, frame = study[4]
    assert list(frame.columns) == [
        "txn_id",
        "day",
        "segment",
        "amount_usd",
        "device_age_days",
        "ip_risk",
        "score",
        "declined",
        "label_source",
        "label",
        "label_day",
    ]
    assert frame["txn_id"].is_unique and frame["day"].between(1, 56).all()
    assert set(frame["segment"]) == set(SEGMENTS) and set(frame["label_source"]) == set(SOURCES)
    assert (frame["declined"] == (frame["score"] >= 0.5)).all()
    assert (frame["label"].isna() == frame["label_day"].isna()).all()
    assert (frame["label_day"].dropna() > frame.loc[frame["label_day"].notna(), "day"]).all()
    assert frame["label_day"].max() <= 100 and frame["ip_risk"].between(0, 1).all()
    # Approved transactions are always labelled; only declines can lack a label.
    assert frame.loc[frame["declined"] == 0, "label"].notna().all()
    # No value sits on a PSI bin edge, so every bin-edge convention gives the same PSI.
    for feature, edges in EDGES.items():
        assert not frame[feature].isin(edges).any(), feature


def test_which_incidents_are_present_is_balanced_and_varies(study: list) -> None:
    combos = [tuple(p[i]["present"] for i in ("drift", "label_break", "feedback_loop")) for p, _, _ in study]
    # Every run of eight seeds holds each of the eight combinations once: no presence is a safe guess.
    for run in range(0, len(combos), 8):
        assert len(set(combos[run : run + 8])) == 8
    assert Counter(combos[:8]) == Counter(itertools.product((False, True), repeat=3))
    assert {p["drift"]["segment"] for p, _, _ in study if p["drift"]["present"]} == set(SEGMENTS)
    assert {p["drift"]["feature"] for p, _, _ in study if p["drift"]["present"]} == set(FEATURES)
    assert {p["label_break"]["source"] for p, _, _ in study if p["label_break"]["present"]} == set(SOURCES)


def test_the_key_finds_what_was_planted_with_margins(study: list) -> None:
    for params, key, _ in study:
        drift, broken, loop = params["drift"], params["label_break"], params["feedback_loop"]
        assert key["drifted_segment"] == (drift["segment"] if drift["present"] else "none")
        assert key["label_break_source"] == (broken["source"] if broken["present"] else "none")
        assert key["feedback_loop_present"] is loop["present"]
        if drift["present"]:
            # A planted drift is far above the 0.25 alarm; nothing else comes near it.
            assert key["psi"][f"{drift['segment']}:{drift['feature']}"] > 0.8
            others = {k: v for k, v in key["psi"].items() if not k.startswith(drift["segment"] + ":")}
            assert max(others.values()) < 0.1
        else:
            assert max(key["psi"].values()) < 0.1
        if broken["present"]:
            assert key["labels_affected"] > 0.1 and key["positive_rate_by_source"][broken["source"]] == 0
        else:
            assert key["labels_affected"] == 0 and min(key["positive_rate_by_source"].values()) > 0.003
        ratio = key["declined_label_coverage"]["current"] / key["declined_label_coverage"]["reference"]
        assert ratio < 0.6 if loop["present"] else ratio > 0.85
        # The loop's selection bias is several times the background bias of the unanswered tenth.
        if loop["present"]:
            assert key["feedback_bias"] < -0.005
        else:
            assert -0.004 < key["feedback_bias"] < 0


def test_a_drift_that_resets_devices_or_rescales_ip_risk_declines_good_customers(study: list) -> None:
    seen = 0
    for params, key, _ in study:
        drift = params["drift"]
        if not drift["present"] or drift["feature"] == "amount_usd":
            continue
        seen += 1
        segment = drift["segment"]
        assert key["decline_rate"][f"{segment}:current"] > 1.4 * key["decline_rate"][f"{segment}:reference"]
        assert key["segment_precision"][f"{segment}:current"] < key["segment_precision"][f"{segment}:reference"] - 0.1
    assert seen >= 8


def test_the_label_break_follows_the_arrival_day(study: list, generator: ModuleType) -> None:
    for params, _, frame in study:
        broken = params["label_break"]
        if not broken["present"]:
            continue
        source, start = generator.label_break(frame)
        # The last positive arrives the day before the planted break (hundreds of labels a day).
        assert source == broken["source"] and start == broken["start_label_day"]


def _independent_key(frame: pd.DataFrame) -> dict[str, Any]:
    """The brief's definitions re-derived with plain Python over rows and pandas' own binning."""
    rows = frame.to_dict("records")
    period = {**{d: "reference" for d in range(1, 15)}, **{d: "current" for d in range(43, 57)}}

    def share(hits: int, total: int) -> float:
        return hits / total if total else 0.0

    psi = {}
    for segment in SEGMENTS:
        for feature, edges in EDGES.items():
            counts = {}
            for name in ("reference", "current"):
                values = [r[feature] for r in rows if r["segment"] == segment and period.get(r["day"]) == name]
                binned = pd.cut(pd.Series(values), [-math.inf, *edges, math.inf], right=False)
                counts[name] = [max(v / len(values), 1e-4) for v in binned.value_counts(sort=False)]
            psi[f"{segment}:{feature}"] = sum(
                (c - r) * math.log(c / r) for r, c in zip(counts["reference"], counts["current"], strict=True)
            )
    over = {k: v for k, v in psi.items() if v > 0.25}
    decline, precision = {}, {}
    for segment in SEGMENTS:
        for name in ("reference", "current"):
            own = [r for r in rows if r["segment"] == segment and period.get(r["day"]) == name]
            flagged = [r for r in own if r["score"] >= 0.5 and not pd.isna(r["label"])]
            decline[f"{segment}:{name}"] = share(sum(r["score"] >= 0.5 for r in own), len(own))
            precision[f"{segment}:{name}"] = share(sum(r["label"] == 1 for r in flagged), len(flagged))
    labelled = [r for r in rows if not pd.isna(r["label"])]
    current = [r for r in labelled if period.get(r["day"]) == "current"]
    positive = {
        s: share(
            sum(r["label"] == 1 for r in current if r["label_source"] == s),
            sum(r["label_source"] == s for r in current),
        )
        for s in SOURCES
    }
    tails = {}
    for s in SOURCES:
        own = [r for r in labelled if r["label_source"] == s]
        start = max((r["label_day"] for r in own if r["label"] == 1), default=0) + 1
        tail = sum(r["label_day"] >= start for r in own)
        if tail >= 0.05 * len(labelled):
            tails[s] = tail
    coverage = {}
    for name in ("reference", "current"):
        declined = [r for r in rows if r["score"] >= 0.5 and period.get(r["day"]) == name]
        coverage[name] = share(sum(not pd.isna(r["label"]) for r in declined), len(declined))
    now = [r for r in rows if period.get(r["day"]) == "current"]
    naive = share(sum(r["label"] == 1 for r in current), len(current))
    corrected_hits = 0.0
    for flag in (False, True):
        group = [r for r in now if (r["score"] >= 0.5) == flag]
        known = [r for r in group if not pd.isna(r["label"])]
        corrected_hits += len(group) * share(sum(r["label"] == 1 for r in known), len(known))
    return {
        "psi": psi,
        "drifted_segment": max(over, key=over.get).split(":")[0] if over else "none",
        "decline_rate": decline,
        "segment_precision": precision,
        "positive_rate_by_source": positive,
        "labels_affected": max(tails.values()) / len(labelled) if tails else 0.0,
        "label_break_source": max(tails, key=tails.get) if tails else "none",
        "declined_label_coverage": coverage,
        "feedback_bias": naive - corrected_hits / len(now),
        "feedback_loop_present": coverage["current"] < 0.75 * coverage["reference"],
    }


def test_answer_key_agrees_with_an_independent_computation(study: list, parts: dict) -> None:
    from assessments.grading.checks import score_check

    for seed in (1, 4, 5):
        _, key, frame = study[seed]
        expected = _independent_key(frame)
        assert set(key) == set(expected)
        for part_id, value in expected.items():
            check = dict(parts[part_id]["check"])
            kind = check.pop("kind")
            # Both sides follow the same definitions, so only floating-point noise may separate them.
            strict = {**check, "abs_tol": 1e-12, "rel_tol": 1e-9} if "abs_tol" in check or "rel_tol" in check else check
            assert score_check(kind, strict, value, key[part_id], 1.0).earned == 1, (seed, part_id)


def test_answer_key_is_plain_json(study: list) -> None:
    for _, key, _ in study[:8]:
        assert json.loads(json.dumps(key, allow_nan=False)) == key


def test_four_significant_digits_pass_every_computed_part(study: list, parts: dict) -> None:
    for _, key, _ in study:
        for part_id, part in parts.items():
            if "check" in part and part["check"]["kind"] in ("number", "table"):
                assert earned(parts, part_id, four_digits(key[part_id]), key[part_id]) == 1, part_id


# The traps each part is written to catch, measured over the study seeds with the case's own checks.


def _decile_psi(frame: pd.DataFrame) -> dict[str, float]:
    ref, cur = frame[frame["day"] <= 14], frame[frame["day"] >= 43]
    out = {}
    for segment in SEGMENTS:
        for feature in FEATURES:
            r = ref.loc[ref["segment"] == segment, feature].to_numpy()
            c = cur.loc[cur["segment"] == segment, feature].to_numpy()
            edges = np.quantile(r, np.linspace(0.1, 0.9, 9))
            rs = np.maximum(np.bincount(np.digitize(r, edges), minlength=10) / len(r), 1e-4)
            cs = np.maximum(np.bincount(np.digitize(c, edges), minlength=10) / len(c), 1e-4)
            out[f"{segment}:{feature}"] = float(((cs - rs) * np.log(cs / rs)).sum())
    return out


def test_decile_bins_miss_most_psi_entries(study: list, parts: dict) -> None:
    for _, key, frame in study:
        assert earned(parts, "psi", _decile_psi(frame), key["psi"]) <= 0.3


def test_a_break_dated_by_transaction_day_misses_the_affected_share(study: list, parts: dict) -> None:
    for params, key, frame in study:
        if not params["label_break"]["present"]:
            continue
        labelled = frame[frame["label"].notna()]
        own = labelled[labelled["label_source"] == params["label_break"]["source"]]
        start = own.loc[own["label"] == 1, "day"].max() + 1
        wrong = float((own["day"] >= start).sum() / len(labelled))
        assert abs(wrong - key["labels_affected"]) > 0.005
        assert earned(parts, "labels_affected", wrong, key["labels_affected"]) == 0


def test_missing_labels_read_as_not_fraud_miss_the_label_based_parts(study: list, parts: dict) -> None:
    for _, key, frame in study:
        filled = frame.assign(label=frame["label"].fillna(0))
        current = filled[filled["day"] >= 43]
        rates = current.groupby("label_source")["label"].mean().to_dict()
        assert earned(parts, "positive_rate_by_source", rates, key["positive_rate_by_source"]) < 1
        both = filled[(filled["day"] <= 14) | (filled["day"] >= 43)]
        flagged = both[both["score"] >= 0.5].assign(period=lambda f: np.where(f["day"] <= 14, "reference", "current"))
        precision = {f"{s}:{p}": v for (s, p), v in flagged.groupby(["segment", "period"])["label"].mean().items()}
        assert earned(parts, "segment_precision", precision, key["segment_precision"]) <= 0.5
        coverage = {"reference": 1.0, "current": 1.0}
        assert earned(parts, "declined_label_coverage", coverage, key["declined_label_coverage"]) == 0
        assert earned(parts, "feedback_bias", 0.0, key["feedback_bias"]) == 0


def test_the_naive_rate_and_coverage_over_all_transactions_miss(study: list, parts: dict) -> None:
    for _, key, frame in study:
        labelled = frame[frame["label"].notna()]
        change = (
            labelled.loc[labelled["day"] >= 43, "label"].mean() - labelled.loc[labelled["day"] <= 14, "label"].mean()
        )
        assert earned(parts, "feedback_bias", float(change), key["feedback_bias"]) == 0
        everyone = {
            "reference": float(frame.loc[frame["day"] <= 14, "label"].notna().mean()),
            "current": float(frame.loc[frame["day"] >= 43, "label"].notna().mean()),
        }
        assert earned(parts, "declined_label_coverage", everyone, key["declined_label_coverage"]) == 0


def test_no_constant_number_passes_on_more_than_a_tenth_of_the_seeds(study: list, parts: dict) -> None:
    # Every seed's own key tried as a constant on every other seed: the best one a candidate could copy.
    for part_id in ("feedback_bias",):
        keys = [key[part_id] for _, key, _ in study]
        best = max(sum(earned(parts, part_id, guess, key) == 1 for key in keys) for guess in keys)
        assert best <= 0.1 * len(study), part_id
    # labels_affected is 0 on every seed without a break, so it counts only with the per-source rates.
    assert parts["labels_affected"]["rests_on"] == ["positive_rate_by_source"]
    for part_id in ("psi", "decline_rate", "segment_precision", "positive_rate_by_source", "declined_label_coverage"):
        keys = [key[part_id] for _, key, _ in study]
        best = max(sum(earned(parts, part_id, guess, key) > 0.5 for key in keys) for guess in keys)
        assert best <= 0.1 * len(study), part_id


def test_guessing_the_judgment_parts_earns_nothing_without_their_evidence(study: list, parts: dict, case: Any) -> None:
    from assessments.grading.pipeline import rest_on_evidence
    from assessments.grading.report import CheckResult

    judgment = {
        "drifted_segment": ("none", "gaming"),
        "labels_affected": (0.0,),
        "label_break_source": ("none", "chargeback"),
        "feedback_loop_present": (True, False),
    }
    for guess in itertools.product(*judgment.values()):
        answers = dict(zip(judgment, guess, strict=True))
        for _, key, _ in study:
            checks = []
            for part in case.checkable_parts:
                value = answers.get(part.id)
                share = earned(parts, part.id, value, key[part.id]) if value is not None else 0.0
                checks.append(CheckResult(part.id, share * part.points, part.points, "correct", ""))
            assert sum(c.earned for c in rest_on_evidence(case, checks)) == 0, guess


def test_the_guide_says_what_was_planted_with_this_seeds_numbers(generator: ModuleType, study: list) -> None:
    for seed in (0, 1, 3, 4):
        params, key, _ = study[seed]
        lines = generator.guide(seed, SIZE)
        assert lines and all(isinstance(line, str) and line.strip() for line in lines)
        text = "\n".join(lines)
        for incident, name in (
            ("drift", "Input drift"),
            ("label_break", "Label-pipeline break"),
            ("feedback_loop", "Feedback loop"),
        ):
            assert f"**{name}: {'yes' if params[incident]['present'] else 'none'}.**" in text, (seed, incident)
        if params["drift"]["present"]:
            assert params["drift"]["segment"] in text and params["drift"]["feature"] in text
        if params["label_break"]["present"]:
            assert params["label_break"]["source"] in text and f"{key['labels_affected']:.1%}" in text


def test_author_notebook_reproduces_the_key(
    generator: ModuleType, parts: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assessments.grading.checks import score_check

    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    author = nbformat.read(CASE / "notebook.ipynb", as_version=4)
    answer_ids = [c.metadata["assess"]["answer"] for c in author.cells if "answer" in c.metadata.get("assess", {})]
    assert sorted(answer_ids) == sorted(pid for pid, part in parts.items() if "check" in part)
    # Seed 4 plants all three incidents, seed 3 none.
    seeds = (4, 3)
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
            check = dict(parts[part_id]["check"])
            kind = check.pop("kind")
            assert score_check(kind, check, answers[part_id], key[part_id], 1.0).earned == 1, (seed, part_id)
