"""Error-analysis case: a content-moderation classifier's scored predictions with planted failures.

Every seed plants four failures at seeded strengths: one language whose violations the model
under-scores (poor recall), over-confident scores above 0.5 (miscalibration at high scores), one
feature column backfilled from the moderation decision (a label leak), and one label source whose
labels are noisy (visible against the expert audit sample).

Two things make the shortcuts miss what the checks are for:

- The noisy source's reviewers lean on the model: on a seeded share of items they copy the flag
  decision (automation bias), and on the rest they miss or invent violations at random. Its labels
  therefore agree with the model *more* than an honest source's do, while the sources that agree
  least with the model are honest ones with a hard case mix (the policy team takes escalated
  near-misses, the user-report queue takes what users reported, which the model often missed).
  Only the audit finds the noisy source.
- Listings are scored with a category prior (noisy-OR), which lifts harmless listings to a narrow
  band of low scores above their violation rate, while the very lowest scores sit below it; with
  the noisy source's copying, which moves labels at the 0.5 threshold, the reliability curve changes
  sign inside and across the brief's bins, so other binnings (quantile bins, other bin counts) give
  other ECE values. Scores avoid exact multiples of 0.1, so every bin-edge convention agrees.

`hidden` draws the inputs on which the grader calls the candidate's `expected_calibration_error`
(sizes, bin counts and edge cases of its own); they never reach the candidate's files.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

THRESHOLD = 0.5
TARGET_PRECISION = 0.85
ECE_BINS = 10

LANGUAGES = ("en", "es", "pt", "hi", "ar", "id", "tr")
LANGUAGE_SHARES = (0.37, 0.12, 0.10, 0.11, 0.10, 0.10, 0.10)
SURFACES = ("post", "comment", "listing", "profile")
SURFACE_SHARES = (0.45, 0.35, 0.12, 0.08)
LABEL_SOURCES = ("policy_team", "user_report_review", "vendor_a", "vendor_b")
# Candidate failures: which one a seed plants is drawn from these, so answers do not transfer.
WEAK_LANGUAGE_CANDIDATES = ("es", "pt", "hi", "ar", "id", "tr")
NOISY_SOURCE_CANDIDATES = ("user_report_review", "vendor_a", "vendor_b")
LEAK_CANDIDATES = ("author_prior_strikes", "link_domain_risk", "similar_item_removals", "toxicity_api_score")
FEATURES = ("account_age_days", "reporter_count", "text_length", "link_count") + LEAK_CANDIDATES

MARKETPLACE_SURFACES = ("listing", "profile")
MARKETPLACE_LOGIT = 0.7
ESCALATION_BAND = (0.25, 0.5)  # scores just below the flag threshold
ESCALATION_RATE = 0.5
AUDIT_SHARE = 0.10
# The hidden cases for the candidate's expected_calibration_error: (items, n_bins or None for the
# function's default, kind). Drawn from their own random stream, so the data is the same without them.
ECE_CALL_STREAM = 1
ECE_CALL_CASES = (
    (200, None, "calibrated"),
    (400, None, "miscalibrated"),
    (150, 5, "calibrated"),
    (120, 15, "miscalibrated"),
    (60, 20, "calibrated"),  # most bins empty
    (80, None, "extremes"),  # scores of exactly 0.0 and 1.0 (the last bin is closed)
    (50, None, "no_positives"),
    (25, 8, "one_bin"),
)
# Spread of the part of the violation logit nobody observes. Scoring the visible part through the
# probit approximation E[sigmoid(a + u)] ~ sigmoid(a / sqrt(1 + pi * var(u) / 8)) keeps the honest
# score calibrated, so the only miscalibration is the planted one (and what label noise adds).
_HIDDEN_SD = 0.8
_SIGNAL = 3.0
# Honest sources' (miss, false flag) rates against the expert audit. The policy team judges the
# escalated near-misses, the hardest items, so it errs more often than the queues. At the queues'
# rates its ~100 audited items disagreed with the audit on none at all on 14 of seeds 0-39, a table
# entry a constant 0 earned (tests/cases/test_judgment_parts.py); at these, on 4 of 40. The noisy
# source still disagrees most on seeds 0-49 (at least 1.22 times the next source, 1.75 before), and
# quantile bins still miss the ECE on the same seeds as before (all but seed 36 of 0-39).
HONEST_ERROR_RATES = (0.02, 0.004)
POLICY_TEAM_ERROR_RATES = (0.035, 0.01)


def _plan(rng: np.random.Generator) -> dict[str, Any]:
    """Draw the seed's planted failures and their strengths (always the first draws of the seed)."""
    return {
        "weak_language": str(rng.choice(WEAK_LANGUAGE_CANDIDATES)),
        "weak_language_logit_shift": round(float(rng.uniform(0.5, 0.9)), 3),
        "overconfidence": round(float(rng.uniform(0.6, 0.9)), 3),
        "noisy_source": str(rng.choice(NOISY_SOURCE_CANDIDATES)),
        "noisy_source_copy_rate": round(float(rng.uniform(0.6, 0.8)), 3),
        "noisy_source_miss_rate": round(float(rng.uniform(0.10, 0.35)), 3),
        "noisy_source_false_flag_rate": round(float(rng.uniform(0.03, 0.10)), 3),
        "leaky_feature": str(rng.choice(LEAK_CANDIDATES)),
        "leak_strength": round(float(rng.uniform(3.6, 4.6)), 3),
        "intercept": round(float(rng.uniform(-3.9, -3.3)), 3),
        "listing_prior": round(float(rng.uniform(0.06, 0.08)), 4),
    }


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _feature_from_latent(name: str, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Map a latent to the column's natural scale, so a leaky column looks like an honest one."""
    if name == "author_prior_strikes":
        return rng.poisson(np.exp(-1.6 + 0.8 * x)).astype(float)
    if name == "similar_item_removals":
        return rng.poisson(np.exp(-1.0 + 0.7 * x)).astype(float)
    if name == "link_domain_risk":
        return np.round(_sigmoid(1.1 * x - 1.2), 3)
    if name == "toxicity_api_score":
        return np.round(_sigmoid(1.3 * x - 1.8), 4)
    raise ValueError(name)


def _overconfident(score: np.ndarray, strength: float) -> np.ndarray:
    """Push scores above 0.5 towards 1 (logit l -> l + strength * l**2), keeping the ranking.

    The quadratic term leaves the score distribution smooth at 0.5 and grows with the score, so the
    damage is concentrated where the product acts automatically.
    """
    logit = np.log(score / (1.0 - score))
    stretched = np.where(logit > 0, logit + strength * np.square(np.maximum(logit, 0.0)), logit)
    return _sigmoid(stretched)


def generate(seed: int, size: int) -> dict[str, pd.DataFrame]:
    """The candidate's data: one row per moderated item, `predictions` (same seed, same frame)."""
    rng = np.random.default_rng(seed)
    plan = _plan(rng)
    n = size

    language = rng.choice(np.array(LANGUAGES), size=n, p=LANGUAGE_SHARES)
    surface = rng.choice(np.array(SURFACES), size=n, p=SURFACE_SHARES)
    week = rng.integers(1, 9, size=n)

    risk = rng.standard_normal(n)  # what the model and the honest features partly see
    hidden = rng.normal(0.0, _HIDDEN_SD, size=n)  # what no one sees
    # Scams make listings and profiles more often violating than posts and comments.
    marketplace = np.isin(surface, MARKETPLACE_SURFACES)
    visible_logit = plan["intercept"] + MARKETPLACE_LOGIT * marketplace + _SIGNAL * risk
    true_label = rng.random(n) < _sigmoid(visible_logit + hidden)

    calibrated = _sigmoid(visible_logit / math.sqrt(1.0 + math.pi * _HIDDEN_SD**2 / 8.0))
    model_logit = np.log(calibrated / (1.0 - calibrated)) + rng.normal(0.0, 0.35, size=n)
    weak = language == plan["weak_language"]
    # Few training examples in this language: the model sees less of the risk and scores it low.
    model_logit[weak] = 0.8 * model_logit[weak] + 0.2 * plan["intercept"] - plan["weak_language_logit_shift"]
    model = _sigmoid(model_logit)
    # Listings combine the text score with the category's prior by noisy-OR: no listing scores
    # below the prior, so harmless listings crowd a narrow band of low scores above their rate.
    model = np.where(surface == "listing", 1.0 - (1.0 - model) * (1.0 - plan["listing_prior"]), model)
    score = np.clip(np.round(_overconfident(model, plan["overconfidence"]), 4), 0.0001, 0.9999)
    # Off the interior edges k/10, every reading of "bin k holds [k/10, (k+1)/10)" agrees.
    score = np.where(np.abs(score * 10 - np.round(score * 10)) < 1e-9, score + 0.0001, score)
    flagged = score >= THRESHOLD

    # Users see what the model does not: reports carry some of the hidden risk.
    reporter_count = rng.poisson(np.exp(-0.9 + 0.45 * risk + 0.5 * hidden))
    # Who labels an item: near-misses escalated to the policy team, reported items to the report
    # queue, the rest to the vendors (vendor_b takes the marketplace surfaces and part of the rest).
    escalated = (score >= ESCALATION_BAND[0]) & (score < ESCALATION_BAND[1]) & (rng.random(n) < ESCALATION_RATE)
    vendor = np.where(marketplace | (rng.random(n) < 0.4), "vendor_b", "vendor_a")
    source = np.where(escalated, "policy_team", np.where(reporter_count > 0, "user_report_review", vendor))

    noisy = source == plan["noisy_source"]
    # Automation bias: on a share of its items the noisy source copies the flag decision.
    copies = noisy & (rng.random(n) < plan["noisy_source_copy_rate"])
    honest_miss, honest_false_flag = (
        np.where(source == "policy_team", policy, queue)
        for policy, queue in zip(POLICY_TEAM_ERROR_RATES, HONEST_ERROR_RATES, strict=True)
    )
    miss = np.where(noisy, plan["noisy_source_miss_rate"], honest_miss)
    false_flag = np.where(noisy, plan["noisy_source_false_flag_rate"], honest_false_flag)
    u = rng.random(n)
    label = np.where(copies, flagged, np.where(true_label, u >= miss, u < false_flag)).astype(int)
    audited = rng.random(n) < AUDIT_SHARE
    audit_label = np.where(audited, true_label.astype(float), np.nan)

    columns: dict[str, Any] = {
        "item_id": np.arange(100001, 100001 + n),
        "week": week,
        "language": language,
        "surface": surface,
        "score": score,
        "label": label,
        "label_source": source,
        "audit_label": audit_label,
        "account_age_days": np.round(np.exp(rng.normal(5.5, 1.3, size=n) - 0.35 * risk)).astype(int),
        "reporter_count": reporter_count,
        "text_length": np.round(np.exp(rng.normal(4.6, 0.9, size=n))).astype(int) + 1,
        "link_count": rng.poisson(np.exp(-1.2 + 0.3 * risk)),
    }
    for name in LEAK_CANDIDATES:
        honest = 0.55 * risk + rng.normal(0.0, 0.9, size=n)
        # Backfilled after the decision: the column now encodes the observed label itself.
        leaked = plan["leak_strength"] * label + rng.normal(0.0, 0.7, size=n) - 0.5
        columns[name] = _feature_from_latent(name, leaked if name == plan["leaky_feature"] else honest, rng)
    frame = pd.DataFrame(columns)
    frame["audit_label"] = frame["audit_label"].astype("Int64")
    return {"predictions": frame}


def planted(seed: int, size: int) -> dict[str, Any]:
    """What this seed planted: the failures, their strength parameters and their realised size."""
    plan = _plan(np.random.default_rng(seed))
    frame = generate(seed, size)["predictions"]
    score, label = frame["score"].to_numpy(), frame["label"].to_numpy()
    flagged = score >= THRESHOLD
    recall = (
        pd.Series(flagged & (label == 1)).groupby(frame["language"]).sum()
        / pd.Series(label).groupby(frame["language"]).sum()
    )
    high = score >= 0.7
    audited = frame[frame["audit_label"].notna()]
    disagreement = _audit_disagreement(frame)
    # The shortcut the case is built to defeat: disagreement with the model's flag decision.
    model_disagreement = pd.Series(flagged.astype(int) != label).groupby(frame["label_source"]).mean()
    high_audited = audited["score"].to_numpy() >= 0.7
    plan["realised"] = {
        "weak_language_recall": float(recall[plan["weak_language"]]),
        "best_other_language_recall": float(recall.drop(plan["weak_language"]).max()),
        "overconfidence_gap_at_score_0_7_plus": float(score[high].mean() - label[high].mean()),
        "overconfidence_gap_at_score_0_7_plus_on_audit": float(
            audited["score"].to_numpy()[high_audited].mean()
            - audited["audit_label"].to_numpy(dtype=float)[high_audited].mean()
        ),
        "leaky_feature_auc": _rank_auc(frame[plan["leaky_feature"]].to_numpy(dtype=float), label),
        "model_auc": _rank_auc(score, label),
        "noisy_source_audit_disagreement": float(disagreement[plan["noisy_source"]]),
        "other_sources_audit_disagreement_max": float(disagreement.drop(plan["noisy_source"]).max()),
        "model_disagreement_by_source": {str(k): float(v) for k, v in model_disagreement.items()},
    }
    plan.update(threshold=THRESHOLD, target_precision=TARGET_PRECISION, size=size)
    return plan


def _audit_disagreement(frame: pd.DataFrame) -> pd.Series:
    """Per label source, the share of its audited items whose label differs from the audit label."""
    audited = frame[frame["audit_label"].notna()]
    differs = audited["label"].to_numpy() != audited["audit_label"].to_numpy(dtype=int)
    return pd.Series(differs).groupby(audited["label_source"].to_numpy()).mean()


def _rank_auc(values: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney rank sum, ties at average rank."""
    ranks = pd.Series(values).rank(method="average").to_numpy()
    n_pos = int(label.sum())
    n_neg = len(label) - n_pos
    return float((ranks[label == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _precision_recall_f1(pred: np.ndarray, label: np.ndarray) -> tuple[float, float, float]:
    tp = int((pred & (label == 1)).sum())
    flagged = int(pred.sum())
    positives = int((label == 1).sum())
    precision = tp / flagged if flagged else 0.0
    recall = tp / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def expected_calibration_error(score: np.ndarray, label: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE over equal-width bins on [0, 1] (last bin closed), weighted by bin count."""
    # Rounding first keeps a score of exactly k/10 in bin k despite binary floating point.
    index = np.minimum(np.floor(np.round(score * bins, 9)).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = index == b
        if in_bin.any():
            total += in_bin.mean() * abs(score[in_bin].mean() - label[in_bin].mean())
    return float(total)


def threshold_for_precision(score: np.ndarray, label: np.ndarray, target: float) -> float:
    """The smallest observed score t at which precision of `score >= t` is at least `target`.

    When no observed score reaches the target, the largest observed score (the strictest threshold).
    """
    order = np.argsort(-score, kind="stable")
    s, y = score[order], label[order]
    tp = np.cumsum(y)
    flagged = np.arange(1, len(s) + 1)
    # Only the last row of each tied score block is a threshold: `score >= t` takes the whole block.
    last_of_block = np.append(s[1:] != s[:-1], True)
    ok = last_of_block & (tp / flagged >= target)
    if not ok.any():
        return float(s[0])
    return float(s[ok].min())


def _ece_case(rng: np.random.Generator, n: int, bins: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Scores (4 decimals, off interior bin edges) and 0/1 labels for one hidden ECE case."""
    score = rng.uniform(0.26, 0.37, n) if kind == "one_bin" else rng.beta(1.3, 2.5, n)
    score = np.clip(np.round(score, 4), 0.0001, 0.9999)
    # Off the interior edges k / bins, every reading of "bin k holds [k/bins, (k+1)/bins)" agrees.
    scaled = score * bins
    score = np.where(np.abs(scaled - np.round(scaled)) < 1e-9, score + 0.0001, score)
    if kind == "extremes":
        score[:3] = (0.0, 1.0, 1.0)
    truth = _sigmoid(np.log(score.clip(1e-4, 1 - 1e-4) / (1 - score.clip(1e-4, 1 - 1e-4))) / 1.8)
    label = rng.random(n) < (truth if kind == "miscalibrated" else score)
    return score, np.zeros(n, dtype=int) if kind == "no_positives" else label.astype(int)


def hidden(seed: int, size: int) -> dict[str, pd.DataFrame]:
    """What the grader keeps: the inputs of its hidden calls of expected_calibration_error, one row per item."""
    rng = np.random.default_rng([seed, ECE_CALL_STREAM])
    frames = []
    for call, (n, bins, kind) in enumerate(ECE_CALL_CASES):
        score, label = _ece_case(rng, n, bins or ECE_BINS, kind)
        frames.append(
            pd.DataFrame(
                {
                    "call": call,
                    "n_bins": bins or ECE_BINS,
                    "pass_n_bins": int(bins is not None),
                    "score": score,
                    "label": label,
                }
            )
        )
    return {"ece_calls": pd.concat(frames, ignore_index=True)}


def _ece_calls(frame: pd.DataFrame) -> dict[str, list]:
    """The function part's key: each hidden call's arguments (plain lists) and the expected ECE."""
    calls, expected = [], []
    for _, rows in frame.groupby("call", sort=True):
        score, label = rows["score"].to_numpy(dtype=float), rows["label"].to_numpy(dtype=int)
        bins = int(rows["n_bins"].iloc[0])
        kwargs = {"n_bins": bins} if rows["pass_n_bins"].iloc[0] else {}
        calls.append({"args": [score.tolist(), label.tolist()], "kwargs": kwargs})
        expected.append(expected_calibration_error(score, label, bins))
    return {"calls": calls, "expected": expected}


def answer_key(data: dict[str, pd.DataFrame], hidden: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Expected value of every checkable part: from `predictions`, and the hidden ECE calls."""
    frame = data["predictions"]
    score = frame["score"].to_numpy(dtype=float)
    label = frame["label"].to_numpy(dtype=int)
    pred = score >= THRESHOLD

    precision, recall, f1 = {}, {}, {}
    for lang in sorted(frame["language"].unique()):
        mask = (frame["language"] == lang).to_numpy()
        precision[lang], recall[lang], f1[lang] = _precision_recall_f1(pred[mask], label[mask])

    separation = {name: abs(_rank_auc(frame[name].to_numpy(dtype=float), label) - 0.5) for name in FEATURES}

    disagreement = _audit_disagreement(frame)

    return {
        "precision_by_language": precision,
        "recall_by_language": recall,
        "f1_by_language": f1,
        "worst_language": min(recall, key=recall.__getitem__),
        "ece": expected_calibration_error(score, label),
        "threshold_for_precision": threshold_for_precision(score, label, TARGET_PRECISION),
        "leaky_feature": max(separation, key=separation.__getitem__),
        "audit_disagreement_by_source": {str(k): float(v) for k, v in disagreement.items()},
        "noisiest_label_source": str(disagreement.idxmax()),
        "expected_calibration_error": _ece_calls(hidden["ece_calls"]),
    }


def guide(seed: int, size: int) -> list[str]:
    """The interviewer guide for a seed: the four planted failures with this seed's numbers (markdown)."""
    plan = planted(seed, size)
    realised = plan["realised"]
    key = answer_key(generate(seed, size), hidden(seed, size))
    model_agreement = realised["model_disagreement_by_source"]
    shortcut = max(model_agreement, key=model_agreement.__getitem__)
    disagreement = key["audit_disagreement_by_source"]
    return [
        f"**Weak language: {plan['weak_language']}** (key: {key['worst_language']}): recall "
        f"{realised['weak_language_recall']:.0%} against {realised['best_other_language_recall']:.0%} for the "
        f"best other language, at the {THRESHOLD} threshold. A strong answer finds it by slicing recall per "
        "language, sizes the missed violations, and treats it as a fairness problem, not only a metric.",
        f"**Over-confident scores:** at scores of 0.7 and above, the mean score exceeds the violation rate by "
        f"{realised['overconfidence_gap_at_score_0_7_plus']:.2f} ({realised['overconfidence_gap_at_score_0_7_plus_on_audit']:.2f}"
        f" on the audit sample); ECE over {ECE_BINS} equal-width bins = {key['ece']:.3f}. A strong answer reads the "
        "reliability curve per bin and proposes recalibration (isotonic or Platt) checked on held-out data.",
        f"**Leaky feature: {plan['leaky_feature']}** (key: {key['leaky_feature']}): rank AUC "
        f"{realised['leaky_feature_auc']:.3f} on its own, against {realised['model_auc']:.3f} for the model. "
        "A strong answer says why it is leakage (backfilled from the moderation decision, unavailable at "
        "scoring time), not just a strong feature, and drops it.",
        f"**Noisy label source: {plan['noisy_source']}** (key: {key['noisiest_label_source']}): disagrees with "
        f"the expert audit on {disagreement[plan['noisy_source']]:.1%} of its audited items, against at most "
        f"{realised['other_sources_audit_disagreement_max']:.1%} for the others. Its reviewers copy the model's "
        f"flag on {plan['noisy_source_copy_rate']:.0%} of items, so comparing labels with the model instead "
        f"points to {shortcut} (disagreeing with the model on {model_agreement[shortcut]:.0%}) and makes "
        f"{plan['noisy_source']} look clean ({model_agreement[plan['noisy_source']]:.0%}): an answer that names "
        f"{shortcut} took that shortcut.",
        f"Threshold for {TARGET_PRECISION:.0%} precision: {key['threshold_for_precision']:.3f}. A strong answer "
        "says what that costs in recall, and that noisy labels bias every number above.",
    ]
