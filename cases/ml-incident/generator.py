"""Production-ML incident: eight weeks of a deployed fraud model's scored transactions and their labels.

Each seed plants some of three incidents, at seeded strengths (see `planted`). Which ones are
present is balanced: every run of eight seeds (0-7, 8-15, ...) holds each of the eight combinations
once, in an order drawn per run, so each incident is present on half the seeds, all three on one in
eight and none on one in eight, and no presence follows from the seed number without the generator.

- **Input drift** in one merchant segment from a day in weeks 3-6: a measurement change in one
  feature (amounts sent in a weaker currency, an SDK update that resets device ids, an IP-reputation
  vendor that rescaled its risk), not a change in who commits fraud. The model reads the shifted
  feature as risk, so it declines many more good customers of that segment and its precision falls.
- **A silent label-pipeline break**: from a label-delivery day, one label source delivers only
  negatives (a parser that defaults the fraud flag to 0). The break follows the day a label
  *arrives*, not the transaction's day, so a view by transaction day shows a slow fade.
- **A feedback loop**: from a day in weeks 3-6, most transactions the model declines are no longer
  reviewed, so they never get a label. The labelled data then under-represents exactly the
  transactions the model flagged, and a fraud rate (or a retrain) on it is biased low.

Without a loop, a tenth of declined transactions still go unreviewed (customers who never answer),
so the loop's evidence is a change in coverage, and the selection bias is never exactly zero.

The model's score is the Bayes posterior of the features' true densities plus noise, so it is
roughly calibrated before any incident. `answer_key` reads only the frame, never these parameters,
with the definitions in brief.md.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

DAYS = 56
REFERENCE = (1, 14)
CURRENT = (43, 56)
PERIODS = {"reference": REFERENCE, "current": CURRENT}
THRESHOLD = 0.5
SEGMENTS = ("grocery", "electronics", "travel", "gaming", "fashion")
SOURCES = ("chargeback", "issuer_alert", "customer_dispute")
FEATURES = ("amount_usd", "device_age_days", "ip_risk")
# Population stability index bins, fixed in the brief: bin i holds edges[i-1] <= x < edges[i].
BIN_EDGES = {
    "amount_usd": (10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0),
    "device_age_days": (1.0, 7.0, 30.0, 90.0, 180.0, 365.0, 730.0),
    "ip_risk": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
}
# The unit each feature is recorded in; generated values never sit on a bin edge.
_RESOLUTION = {"amount_usd": 0.01, "device_age_days": 0.1, "ip_risk": 0.0001}
PSI_FLOOR = 1e-4
DRIFT_PSI = 0.25
LOOP_RATIO = 0.75
# A break must hold at least this share of all delivered labels: a clean source's run of negatives after
# its last positive (the slow tail of chargebacks) stays far below it.
BREAK_MIN_SHARE = 0.05
MIN_SIZE = 1000
INCIDENTS = ("drift", "label_break", "feedback_loop")

_SEGMENT_SHARES = np.array([0.30, 0.20, 0.15, 0.15, 0.20])
_FRAUD_RATE = np.array([0.012, 0.035, 0.028, 0.045, 0.022])
_AMOUNT_LOG_MEAN = np.array([3.3, 5.0, 5.5, 3.0, 4.2])
_AMOUNT_SIGMA = 0.8
_FRAUD_AMOUNT_SHIFT = 0.4
_SOURCE_SHARES = np.array([0.45, 0.30, 0.25])
# Label delay in days per source (inclusive bounds): chargebacks are slow, issuer alerts fast.
_DELAY = {"chargeback": (10, 44), "issuer_alert": (2, 12), "customer_dispute": (5, 30)}
_NORMAL_REVIEW = 0.9
_SCORE_NOISE = 0.6
# Slow growth in basket size for everyone: a little PSI everywhere, so "no drift" is not "PSI 0".
_AMOUNT_GROWTH_PER_DAY = 0.002
_COMBINATIONS = tuple(itertools.product((False, True), repeat=len(INCIDENTS)))


def _parameters(seed: int) -> dict[str, Any]:
    """The seed's incidents and their strengths, drawn from their own streams."""
    run = seed // len(_COMBINATIONS)
    order = np.random.default_rng([run, 7]).permutation(len(_COMBINATIONS))
    present = dict(zip(INCIDENTS, _COMBINATIONS[int(order[seed % len(_COMBINATIONS)])], strict=True))
    rng = np.random.default_rng([seed, 0])
    drift_feature = str(rng.choice(FEATURES))
    strength = {
        "amount_usd": float(rng.uniform(2.0, 4.0)),  # amounts multiplied by 1 + strength
        "device_age_days": float(rng.uniform(0.35, 0.7)),  # share of devices reset to a new id
        "ip_risk": float(rng.uniform(0.12, 0.25)),  # added to the risk
    }[drift_feature]
    drift = {
        "present": present["drift"],
        "segment": str(rng.choice(SEGMENTS)),
        "feature": drift_feature,
        "strength": strength,
        "start_day": int(rng.integers(15, 37)),
    }
    label_break = {
        "present": present["label_break"],
        "source": str(rng.choice(SOURCES)),
        "start_label_day": int(rng.integers(18, 41)),
    }
    loop = {
        "present": present["feedback_loop"],
        "start_day": int(rng.integers(15, 37)),
        "unreviewed_share": float(rng.uniform(0.5, 0.8)),
    }
    for incident in (drift, label_break, loop):
        if not incident["present"]:
            incident.update({k: None for k in incident if k != "present"})
    return {"drift": drift, "label_break": label_break, "feedback_loop": loop}


def _off_edges(values: np.ndarray, feature: str) -> np.ndarray:
    """Values rounded to the feature's unit and moved one unit up where they land on a bin edge."""
    unit = _RESOLUTION[feature]
    decimals = int(round(-np.log10(unit)))
    rounded = np.round(values, decimals)
    on_edge = np.isin(rounded, np.round(np.array(BIN_EDGES[feature]), decimals))
    return np.round(np.where(on_edge, rounded + unit, rounded), decimals)


def _log_likelihood_ratio(
    amount: np.ndarray, device_age: np.ndarray, ip_risk: np.ndarray, segment: np.ndarray
) -> np.ndarray:
    """log p(features | fraud) - log p(features | legit), from the densities the data is drawn from."""
    log_amount = np.log(amount)
    mean = _AMOUNT_LOG_MEAN[segment]
    llr = stats.norm.logpdf(log_amount, mean + _FRAUD_AMOUNT_SHIFT, _AMOUNT_SIGMA) - stats.norm.logpdf(
        log_amount, mean, _AMOUNT_SIGMA
    )
    log_age = np.log(device_age)
    llr += stats.norm.logpdf(log_age, np.log(6.0), 1.3) - stats.norm.logpdf(log_age, np.log(150.0), 1.1)
    risk = np.clip(ip_risk, 1e-4, 1 - 1e-4)
    llr += stats.beta.logpdf(risk, 5, 4) - stats.beta.logpdf(risk, 2, 8)
    return llr


def generate(seed: int, size: int) -> dict[str, pd.DataFrame]:
    """The candidate's data: one row per scored transaction, with its label as delivered.

    :raises ValueError: when `size` is below MIN_SIZE (the periods' rates need transactions).
    """
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE}")
    params = _parameters(seed)
    rng = np.random.default_rng([seed, 1])
    n = size
    day = np.sort(rng.integers(1, DAYS + 1, size=n))
    segment = rng.choice(len(SEGMENTS), size=n, p=_SEGMENT_SHARES)
    fraud = rng.random(n) < _FRAUD_RATE[segment]
    growth = 1 + _AMOUNT_GROWTH_PER_DAY * (day - 1)
    amount = np.exp(rng.normal(_AMOUNT_LOG_MEAN[segment] + _FRAUD_AMOUNT_SHIFT * fraud, _AMOUNT_SIGMA)) * growth
    device_age = np.where(
        fraud, np.exp(rng.normal(np.log(6.0), 1.3, size=n)), np.exp(rng.normal(np.log(150.0), 1.1, size=n))
    )
    ip_risk = np.where(fraud, rng.beta(5, 4, size=n), rng.beta(2, 8, size=n))
    noise = rng.normal(0.0, _SCORE_NOISE, size=n)

    drift = params["drift"]
    if drift["present"]:
        hit = (segment == SEGMENTS.index(drift["segment"])) & (day >= drift["start_day"])
        if drift["feature"] == "amount_usd":
            amount = np.where(hit, amount * (1 + drift["strength"]), amount)
        elif drift["feature"] == "device_age_days":
            reset = hit & (rng.random(n) < drift["strength"])
            device_age = np.where(reset, rng.uniform(0.05, 3.0, size=n), device_age)
        else:
            ip_risk = np.where(hit, np.minimum(ip_risk + drift["strength"], 0.9999), ip_risk)
    amount = np.maximum(_off_edges(amount, "amount_usd"), 0.5)
    device_age = np.maximum(_off_edges(device_age, "device_age_days"), 0.1)
    ip_risk = np.clip(_off_edges(ip_risk, "ip_risk"), 0.0001, 0.9999)

    prior = np.log(_FRAUD_RATE[segment] / (1 - _FRAUD_RATE[segment]))
    logit = prior + _log_likelihood_ratio(amount / growth, device_age, ip_risk, segment) + noise
    score = np.round(1 / (1 + np.exp(-logit)), 4)
    declined = score >= THRESHOLD

    source = rng.choice(len(SOURCES), size=n, p=_SOURCE_SHARES)
    delay = np.empty(n, dtype=int)
    for i, name in enumerate(SOURCES):
        low, high = _DELAY[name]
        delay[source == i] = rng.integers(low, high + 1, size=int((source == i).sum()))
    label_day = day + delay

    review = np.full(n, _NORMAL_REVIEW)
    loop = params["feedback_loop"]
    if loop["present"]:
        review = np.where(day >= loop["start_day"], _NORMAL_REVIEW * (1 - loop["unreviewed_share"]), review)
    labelled = ~declined | (rng.random(n) < review)
    label = fraud.astype(float)
    broken = params["label_break"]
    if broken["present"]:
        defaulted = (source == SOURCES.index(broken["source"])) & (label_day >= broken["start_label_day"])
        label = np.where(defaulted, 0.0, label)

    frame = pd.DataFrame(
        {
            "txn_id": np.arange(1, n + 1) * 7 + 1_000_000,
            "day": day,
            "segment": np.array(SEGMENTS)[segment],
            "amount_usd": amount,
            "device_age_days": device_age,
            "ip_risk": ip_risk,
            "score": score,
            "declined": declined.astype(int),
            "label_source": np.array(SOURCES)[source],
            "label": pd.array(np.where(labelled, label, np.nan), dtype="Int64"),
            "label_day": pd.array(np.where(labelled, label_day, np.nan), dtype="Int64"),
        }
    )
    return {"transactions": frame}


def _period(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    first, last = PERIODS[name]
    return frame[frame["day"].between(first, last)]


def _share(hits: int | float, total: int | float) -> float:
    """hits / total, and 0 over an empty group (the brief's convention)."""
    return float(hits / total) if total else 0.0


def population_stability(reference: np.ndarray, current: np.ndarray, edges: tuple[float, ...]) -> float:
    """PSI of `current` against `reference` over fixed bins, empty bins counted as a share of PSI_FLOOR."""
    bins = len(edges) + 1
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=bins) / max(len(reference), 1)
    cur = np.bincount(np.searchsorted(edges, current, side="right"), minlength=bins) / max(len(current), 1)
    ref, cur = np.maximum(ref, PSI_FLOOR), np.maximum(cur, PSI_FLOOR)
    return float(((cur - ref) * np.log(cur / ref)).sum())


def label_break(frame: pd.DataFrame) -> tuple[str, int | None]:
    """The broken source and its break day by the brief's rule, or ("none", None).

    A source is broken from day B when every label it delivered on day B or later is 0, those labels
    are at least BREAK_MIN_SHARE of all delivered labels, and B is one day after its last positive label.
    """
    labelled = frame[frame["label"].notna()]
    found = []
    for name in SOURCES:
        own = labelled[labelled["label_source"] == name]
        positives = own.loc[own["label"] == 1, "label_day"]
        start = int(positives.max()) + 1 if len(positives) else int(own["label_day"].min())
        after = int((own["label_day"] >= start).sum())
        if after >= BREAK_MIN_SHARE * len(labelled):
            found.append((after, name, start))
    if not found:
        return "none", None
    _, name, start = max(found)
    return name, start


def answer_key(data: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Every checkable value, computed from the frame with the definitions in brief.md."""
    frame = data["transactions"]
    periods = {name: _period(frame, name) for name in PERIODS}

    psi = {}
    for segment in SEGMENTS:
        ref = periods["reference"][periods["reference"]["segment"] == segment]
        cur = periods["current"][periods["current"]["segment"] == segment]
        for feature in FEATURES:
            psi[f"{segment}:{feature}"] = population_stability(
                ref[feature].to_numpy(float), cur[feature].to_numpy(float), BIN_EDGES[feature]
            )
    over = {key: value for key, value in psi.items() if value > DRIFT_PSI}
    drifted_segment = max(over, key=over.__getitem__).split(":")[0] if over else "none"

    decline_rate, precision = {}, {}
    for name, rows in periods.items():
        for segment in SEGMENTS:
            own = rows[rows["segment"] == segment]
            decline_rate[f"{segment}:{name}"] = _share((own["score"] >= THRESHOLD).sum(), len(own))
            flagged = own[(own["score"] >= THRESHOLD) & own["label"].notna()]
            precision[f"{segment}:{name}"] = _share((flagged["label"] == 1).sum(), len(flagged))

    current = periods["current"]
    current_labelled = current[current["label"].notna()]
    positive_rate = {
        name: _share((own["label"] == 1).sum(), len(own))
        for name, own in ((s, current_labelled[current_labelled["label_source"] == s]) for s in SOURCES)
    }
    broken_source, start = label_break(frame)
    all_labels = frame[frame["label"].notna()]
    if start is None:
        affected = 0.0
    else:
        hit = (all_labels["label_source"] == broken_source) & (all_labels["label_day"] >= start)
        affected = _share(hit.sum(), len(all_labels))

    coverage = {}
    for name, rows in periods.items():
        declined = rows[rows["score"] >= THRESHOLD]
        coverage[name] = _share(declined["label"].notna().sum(), len(declined))
    loop_present = coverage["current"] < LOOP_RATIO * coverage["reference"]

    naive = _share((current_labelled["label"] == 1).sum(), len(current_labelled))
    corrected_hits, corrected_total = 0.0, 0
    for is_declined in (False, True):
        group = current[(current["score"] >= THRESHOLD) == is_declined]
        with_label = group[group["label"].notna()]
        corrected_hits += len(group) * _share((with_label["label"] == 1).sum(), len(with_label))
        corrected_total += len(group)
    corrected = _share(corrected_hits, corrected_total)

    return {
        "psi": psi,
        "drifted_segment": drifted_segment,
        "decline_rate": decline_rate,
        "segment_precision": precision,
        "positive_rate_by_source": positive_rate,
        "labels_affected": affected,
        "label_break_source": broken_source,
        "declined_label_coverage": coverage,
        "feedback_bias": naive - corrected,
        "feedback_loop_present": bool(loop_present),
    }


def planted(seed: int, size: int) -> dict[str, Any]:
    """What this seed planted, how strongly, and what it did to the numbers the brief asks for."""
    params = _parameters(seed)
    data = generate(seed, size)
    key = answer_key(data)
    drift = params["drift"]
    realised: dict[str, Any] = {}
    if drift["present"]:
        segment = drift["segment"]
        realised["drift"] = {
            "psi": key["psi"][f"{segment}:{drift['feature']}"],
            "decline_rate": {p: key["decline_rate"][f"{segment}:{p}"] for p in PERIODS},
            "precision": {p: key["segment_precision"][f"{segment}:{p}"] for p in PERIODS},
        }
    if params["label_break"]["present"]:
        realised["label_break"] = {
            "labels_affected": key["labels_affected"],
            "found_start_label_day": label_break(data["transactions"])[1],
        }
    realised["feedback_loop"] = {
        "declined_label_coverage": key["declined_label_coverage"],
        "feedback_bias": key["feedback_bias"],
    }
    return {**params, "realised": realised, "size": size}


def guide(seed: int, size: int) -> list[str]:
    """What an interviewer should know about this seed: what was planted, with its numbers (markdown lines)."""
    p = planted(seed, size)
    drift, broken, loop, realised = p["drift"], p["label_break"], p["feedback_loop"], p["realised"]
    lines = [f"**Planted in this candidate's data** ({sum(p[i]['present'] for i in INCIDENTS)} of 3 incidents):"]
    if drift["present"]:
        r = realised["drift"]
        lines.append(
            f"- **Input drift: yes.** `{drift['feature']}` in the **{drift['segment']}** segment from day "
            f"{drift['start_day']} (a measurement change, not new fraud): PSI {r['psi']:.2f}; decline rate "
            f"{r['decline_rate']['reference']:.1%} -> {r['decline_rate']['current']:.1%}, precision "
            f"{r['precision']['reference']:.1%} -> {r['precision']['current']:.1%}. Good customers of that "
            "segment are being declined: a strong answer names that harm and the feature, not only the PSI."
        )
    else:
        lines.append(
            "- **Input drift: none.** Amounts grow slowly everywhere (PSI well under 0.25); a strong "
            "answer says the segments' inputs are stable rather than inventing a drift."
        )
    if broken["present"]:
        lines.append(
            f"- **Label-pipeline break: yes.** `{broken['source']}` delivers only negatives from label day "
            f"{broken['start_label_day']}; {realised['label_break']['labels_affected']:.1%} of all labels are "
            "affected. It follows the label's arrival day, not the transaction's: by transaction day it "
            "looks like a slow fade. Every label-based metric after the break is wrong for that source."
        )
    else:
        lines.append("- **Label-pipeline break: none.** Every source keeps delivering positives to the end.")
    cov, bias = realised["feedback_loop"]["declined_label_coverage"], realised["feedback_loop"]["feedback_bias"]
    if loop["present"]:
        lines.append(
            f"- **Feedback loop: yes.** From day {loop['start_day']}, {loop['unreviewed_share']:.0%} of the declines "
            f"that used to be reviewed no longer are: labelled share of declines {cov['reference']:.1%} -> "
            f"{cov['current']:.1%}; the labelled fraud rate of the current period is off by {bias * 100:+.2f} "
            "percentage points. A retrain on these labels would learn that high scores are safer than they are."
        )
    else:
        lines.append(
            f"- **Feedback loop: none.** Declines stay reviewed ({cov['reference']:.1%} -> {cov['current']:.1%} "
            f"labelled); the selection bias is small ({bias * 100:+.2f} percentage points) but declines are still under-labelled."
        )
    lines.append(
        "- Listen for: which incident blocks a retrain (the label break and the loop corrupt the training "
        "labels), a fix for each root cause rather than a threshold tweak, and the customers harmed."
    )
    return lines
