"""Product-design case: reduce account takeover (ATO) with a login risk model.

The data is four weeks of logins from a sample of active accounts, a feature catalog, the PM's
draft experiment plan, the decision policy the score will feed (its costs and how the score is used),
and the next week's logins as production would score them (a holdout without labels; `hidden` keeps
its labels for the grader). Each seed plants a heavy class imbalance (seeded compromise rate), a
seeded minimum detectable effect, a seeded decision policy, and one feature column that was
backfilled from fraud investigations (a label leak), drawn from several candidates so answers do not
transfer between candidates.

Why the leak fails in production, and in the holdout: the four leak candidates are read from
systems whose values settle after the fact. The export-date snapshot holds settled values: flags
kept after review, upheld chargebacks, the trust a device earned or lost, support contacts up to the
export date; on the planted column, settling is what the investigation wrote (the leak). At login
time (the point-in-time columns, and every column of the holdout) the same systems hold unsettled
values: open flags that review will clear, disputes not yet decided, the trust of a young device,
owners who just recovered access through support. There the column is noise with at most a weak
relation to takeover, so a model that leans on the snapshot's near-perfect separation ranks many
ordinary logins on top and falls below the holdout's top band, while a model without the column
keeps it.

The metric choice follows the decision policy: a score used as a probability, login by login, must
be calibrated (log loss); a score used through one cut-off only needs ranking, and where the
cost-optimal cut-off C_challenge / (C_challenge + C_missed) lies relative to the base rate decides
between the top of the ranking (PR AUC) and a broad band of it (ROC AUC).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

WINDOW_DAYS = 28
# The holdout the candidate scores: a fixed size (its AUC is about as precise for every `size`), at
# most the 10,000 items the grader reads from a list, with about 2 logins per account.
HOLDOUT_ROWS = 5000
HOLDOUT_STREAM = 1
# The decision policy draws from a stream of its own, so that it shifts no draw of the logins.
POLICY_STREAM = 2
ALPHA = 0.05
POWER = 0.80
EXPORT_DATE = "2026-03-02"
METRIC_OPTIONS = ("accuracy", "roc_auc", "pr_auc", "log_loss")
SCORE_USES = ("ranking", "probability")
# The cost-weighted takeover share w = pi C_missed / (pi C_missed + (1 - pi) C_challenge) is 0.5 exactly
# when the cost-optimal cut-off C_challenge / (C_challenge + C_missed) equals the base rate pi. Costs
# are drawn so that w stays out of (0.444, 0.556), odds within MARGIN_ODDS of 1: no answer hangs on rounding.
WEIGHTED_SHARE_CUTOFF = 0.5
MARGIN_ODDS = 1.25

LEAK_CANDIDATES = ("device_trust_score", "account_risk_flags", "chargeback_count", "support_contacts_30d")
HONEST_FEATURES = (
    "new_device",
    "new_country",
    "ip_risk_score",
    "failed_attempts_1h",
    "hours_since_last_login",
    "login_hour",
    "mfa_enabled",
    "password_age_days",
)
FEATURES = HONEST_FEATURES + LEAK_CANDIDATES

_CATALOG = {
    "new_device": ("Device fingerprint not seen on this account in the previous 90 days (0/1).", "auth-service"),
    "new_country": ("IP geolocation country differs from the account's last 5 logins (0/1).", "auth-service"),
    "ip_risk_score": ("Third-party IP risk score in [0, 1] (proxy, hosting, known botnets).", "ip-intel vendor"),
    "failed_attempts_1h": ("Failed password attempts on the account in the hour before this login.", "auth-service"),
    "hours_since_last_login": ("Hours since the account's previous successful login.", "auth-service"),
    "login_hour": ("Hour of day of the login, UTC (0-23).", "auth-service"),
    "mfa_enabled": ("Account has a second factor enrolled (0/1).", "accounts-db"),
    "password_age_days": ("Days since the account's password was last changed.", "accounts-db"),
    "device_trust_score": ("Trust score in [0, 1] of the device in the device graph.", "device-graph"),
    "account_risk_flags": ("Number of risk flags on the account.", "risk-flags"),
    "chargeback_count": ("Payment chargebacks on the account.", "payments"),
    "support_contacts_30d": ("Contacts with customer support about the account, trailing 30 days.", "support-crm"),
}
_POINT_IN_TIME = "login time (point-in-time join)"
_SNAPSHOT = f"export date ({EXPORT_DATE}, nightly snapshot)"
# Why a snapshot column leaks: each leak candidate's own way of learning the outcome.
_LEAK_NOTES = {
    "device_trust_score": "Devices in confirmed takeover cases are marked untrusted when the case closes.",
    "account_risk_flags": "Investigators add flags to the account while working a case.",
    "chargeback_count": "Includes chargebacks filed after the login by the account owner.",
    "support_contacts_30d": "Trailing 30 days before the export date, not before the login.",
}


def _plan(rng: np.random.Generator) -> dict[str, Any]:
    """Draw the seed's planted values (always the first draws of the seed)."""
    return {
        "compromise_rate": round(float(rng.uniform(0.010, 0.025)), 4),
        "attacker_login_share": round(float(rng.uniform(0.35, 0.60)), 3),
        "relative_mde": round(float(rng.uniform(0.15, 0.35)), 2),
        "leaky_feature": str(rng.choice(LEAK_CANDIDATES)),
        "leak_strength": round(float(rng.uniform(0.85, 0.97)), 3),
    }


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _leak_column(name: str, ato: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """The column as the export-date snapshot shows it (settled): for a share `strength` of takeovers it records the case."""
    n = len(ato)
    recorded = ato & (rng.random(n) < strength)
    if name == "device_trust_score":
        return np.round(np.where(recorded, rng.beta(1.0, 15.0, n), rng.beta(5.0, 2.0, n)), 3)
    base = {"account_risk_flags": 0.08, "chargeback_count": 0.03, "support_contacts_30d": 0.25}[name]
    return rng.poisson(base, n) + np.where(recorded, 1 + rng.poisson(1.0, n), 0)


# Unsettled values at login time (mean count, and its ratio on takeover logins): open flags raised by
# automated rules and mostly cleared on review; payment disputes not yet decided; support contacts in the
# 30 days before the login, often an owner who just recovered access (so fewer before a takeover).
_LOGIN_TIME_COUNTS = {
    "account_risk_flags": (1.5, 1.0),
    "chargeback_count": (0.8, 1.0),
    "support_contacts_30d": (1.5, 0.4),
}


def _login_time_value(name: str, ato: np.ndarray, new_device: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The column read at login time: unsettled values, weakly related to takeover at most."""
    n = len(ato)
    if name == "device_trust_score":
        # Trust builds with a device's history: a new device starts low, and young devices vary widely.
        return np.round(_sigmoid(0.5 - 1.0 * new_device + rng.normal(0.0, 3.0, n)), 3)
    mean, takeover_ratio = _LOGIN_TIME_COUNTS[name]
    return rng.poisson(mean * np.where(ato, takeover_ratio, 1.0), n)


def _simulate_logins(
    rng: np.random.Generator,
    plan: dict[str, Any],
    n: int,
    n_accounts: int,
    *,
    first_login_id: int,
    first_account_id: int,
    days: tuple[int, int],
    leak_at_login_time: bool,
) -> pd.DataFrame:
    """Logins with every feature column and `is_ato`, in login-id order.

    With `leak_at_login_time` the planted leaky column is read as of login time like the others
    (unsettled, see the module docstring), as a model in production would see it.
    """
    activity = rng.gamma(1.2, 1.0, n_accounts)
    account = rng.choice(n_accounts, size=n, p=activity / activity.sum())
    compromised = rng.random(n_accounts) < plan["compromise_rate"]
    ato = compromised[account] & (rng.random(n) < plan["attacker_login_share"])
    # A compromised account has at least one attacker login in the window.
    seen, first_login = np.unique(account, return_index=True)
    has_ato = np.bincount(account, weights=ato, minlength=n_accounts) > 0
    ato[first_login[compromised[seen] & ~has_ato[seen]]] = True

    mfa_account = rng.random(n_accounts) < np.where(compromised, 0.12, 0.35)
    new_device = (rng.random(n) < np.where(ato, 0.60, 0.09)).astype(int)
    columns: dict[str, Any] = {
        "login_id": np.arange(first_login_id, first_login_id + n),
        "account_id": first_account_id + account,
        "day": rng.integers(days[0], days[1] + 1, n),
        "new_device": new_device,
        "new_country": (rng.random(n) < np.where(ato, 0.33, 0.03)).astype(int),
        "ip_risk_score": np.round(np.where(ato, rng.beta(3.0, 4.0, n), rng.beta(2.0, 5.5, n)), 3),
        "failed_attempts_1h": rng.poisson(np.where(ato, 0.9, 0.15)),
        "hours_since_last_login": np.round(np.exp(rng.normal(np.where(ato, 3.9, 3.4), 1.2)), 1),
        "login_hour": np.where(ato & (rng.random(n) < 0.4), rng.integers(0, 6, n), rng.integers(0, 24, n)),
        "mfa_enabled": mfa_account[account].astype(int),
        "password_age_days": np.round(np.exp(rng.normal(5.2, 1.0, n))).astype(int),
    }
    for name in LEAK_CANDIDATES:
        if name == plan["leaky_feature"] and not leak_at_login_time:
            columns[name] = _leak_column(name, ato, plan["leak_strength"], rng)
        else:
            columns[name] = _login_time_value(name, ato, new_device, rng)
    columns["is_ato"] = ato.astype(int)
    return pd.DataFrame(columns)


def _holdout(seed: int) -> pd.DataFrame:
    """The week after the window, scored as production would (every column as of login time), with labels.

    Drawn from its own random stream, so that adding it left `logins` unchanged for every seed.
    """
    plan = _plan(np.random.default_rng(seed))
    rng = np.random.default_rng([seed, HOLDOUT_STREAM])
    frame = _simulate_logins(
        rng,
        plan,
        HOLDOUT_ROWS,
        HOLDOUT_ROWS // 2,
        first_login_id=6_000_001,
        first_account_id=800_000,
        days=(WINDOW_DAYS + 1, WINDOW_DAYS + 7),
        leak_at_login_time=True,
    )
    # Shuffled, so that the file's row order says nothing about accounts or labels.
    order = rng.permutation(len(frame))
    return frame.iloc[order].reset_index(drop=True)


def _decision_policy(seed: int, base_rate: float) -> pd.DataFrame:
    """The policy the score feeds: how it is used, and the cost of each kind of error (one row).

    The cost ratio is drawn independently of the base rate, log-uniform around the ratio that puts
    the cost-optimal cut-off at the median base rate (about 110), so that neither alone says on
    which side of the base rate the cut-off falls; a ratio that would put it within a factor
    MARGIN_ODDS of the base rate (in odds) is pushed out by that factor.
    """
    rng = np.random.default_rng([seed, POLICY_STREAM])
    score_use = SCORE_USES[int(rng.random() < 1 / 3)]
    challenge = round(float(rng.uniform(0.5, 4.0)) * 20) / 20
    missed = round(challenge * math.exp(rng.uniform(math.log(25.0), math.log(500.0))))
    odds = base_rate * missed / ((1.0 - base_rate) * challenge)
    if 1 / MARGIN_ODDS < odds < MARGIN_ODDS:
        missed = round(missed * MARGIN_ODDS) if odds >= 1.0 else round(missed / MARGIN_ODDS)
    return pd.DataFrame(
        [{"cost_missed_takeover": float(missed), "cost_needless_challenge": challenge, "score_use": score_use}]
    )


def cost_weighted_share(base_rate: float, cost_missed: float, cost_challenge: float) -> float:
    """The takeover share once each class is weighted by the cost of getting it wrong."""
    return base_rate * cost_missed / (base_rate * cost_missed + (1.0 - base_rate) * cost_challenge)


def metric_for(base_rate: float, policy: pd.Series) -> str:
    """The offline metric the policy calls for (the rule the brief states)."""
    if policy["score_use"] == "probability":
        return "log_loss"
    share = cost_weighted_share(
        base_rate, float(policy["cost_missed_takeover"]), float(policy["cost_needless_challenge"])
    )
    return "pr_auc" if share < WEIGHTED_SHARE_CUTOFF else "roc_auc"


def generate(seed: int, size: int) -> dict[str, pd.DataFrame]:
    """The candidate's data: `logins`, `feature_catalog`, `experiment_plan`, `decision_policy` and `holdout_logins` (no labels)."""
    rng = np.random.default_rng(seed)
    plan = _plan(rng)
    raw = _simulate_logins(
        rng,
        plan,
        size,
        max(size // 6, 50),
        first_login_id=5_000_001,
        first_account_id=700_000,
        days=(1, WINDOW_DAYS),
        leak_at_login_time=False,
    )
    logins = raw.sort_values(["day", "login_id"], kind="stable").reset_index(drop=True)

    catalog = pd.DataFrame(
        [
            {
                "feature": name,
                "description": description + (" " + _LEAK_NOTES[name] if name == plan["leaky_feature"] else ""),
                "source_system": source,
                "as_of": _SNAPSHOT if name in (plan["leaky_feature"], "mfa_enabled") else _POINT_IN_TIME,
            }
            for name, (description, source) in _CATALOG.items()
        ]
    )
    experiment = pd.DataFrame(
        [
            {
                "primary_metric": "share of accounts with at least one confirmed takeover login in the window",
                "randomization_unit": "account",
                "window_days": WINDOW_DAYS,
                "direction": "decrease",
                "relative_mde": plan["relative_mde"],
                "alpha": ALPHA,
                "power": POWER,
                "sides": 2,
            }
        ]
    )
    policy = _decision_policy(seed, float(logins["is_ato"].mean()))
    holdout = _holdout(seed).drop(columns="is_ato")
    return {
        "logins": logins,
        "feature_catalog": catalog,
        "experiment_plan": experiment,
        "decision_policy": policy,
        "holdout_logins": holdout,
    }


def hidden(seed: int, size: int) -> dict[str, pd.DataFrame]:
    """What the grader keeps: the labels of `holdout_logins` (never written to the candidate's bundle)."""
    return {"holdout_labels": _holdout(seed)[["login_id", "is_ato"]]}


def planted(seed: int, size: int) -> dict[str, Any]:
    """What this seed planted: the imbalance, the MDE, the leak, the policy, their strength and realised size."""
    plan = _plan(np.random.default_rng(seed))
    data = generate(seed, size)
    logins, policy = data["logins"], data["decision_policy"].iloc[0]
    label = logins["is_ato"].to_numpy(dtype=int)
    separation = {name: abs(_rank_auc(logins[name].to_numpy(dtype=float), label) - 0.5) + 0.5 for name in FEATURES}
    plan["realised"] = {
        "login_base_rate": float(label.mean()),
        "account_ato_rate": float(logins.groupby("account_id")["is_ato"].max().mean()),
        "leaky_feature_auc": separation.pop(plan["leaky_feature"]),
        "best_honest_feature_auc": max(separation.values()),
        "holdout_positives": int(hidden(seed, size)["holdout_labels"]["is_ato"].sum()),
        "cost_weighted_share": cost_weighted_share(
            float(label.mean()), float(policy["cost_missed_takeover"]), float(policy["cost_needless_challenge"])
        ),
    }
    plan.update(size=size, score_use=str(policy["score_use"]), metric_choice=metric_for(float(label.mean()), policy))
    return plan


def sample_size_per_arm(baseline: float, relative_mde: float, alpha: float = ALPHA, power: float = POWER) -> int:
    """Accounts per arm to detect baseline -> baseline * (1 - relative_mde), two-proportion z-test.

    n = (z_{1-alpha/2} sqrt(2 pbar qbar) + z_{power} sqrt(p1 q1 + p2 q2))^2 / (p1 - p2)^2, rounded up.
    """
    p1 = baseline
    p2 = baseline * (1.0 - relative_mde)
    p_bar = (p1 + p2) / 2.0
    z_alpha = norm.ppf(1.0 - alpha / 2.0)
    z_power = norm.ppf(power)
    root = z_alpha * math.sqrt(2.0 * p_bar * (1.0 - p_bar)) + z_power * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root**2 / (p1 - p2) ** 2)


def _rank_auc(values: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney rank sum, ties at average rank."""
    ranks = pd.Series(values).rank(method="average").to_numpy()
    n_pos = int(label.sum())
    n_neg = len(label) - n_pos
    return float((ranks[label == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def answer_key(data: dict[str, pd.DataFrame], hidden: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Expected value of every checkable part: from the candidate's frames, and the holdout's hidden labels."""
    logins = data["logins"]
    plan = data["experiment_plan"].iloc[0]
    label = logins["is_ato"].to_numpy(dtype=int)
    base_rate = float(label.mean())
    account_rate = float(logins.groupby("account_id")["is_ato"].max().mean())
    separation = {name: abs(_rank_auc(logins[name].to_numpy(dtype=float), label) - 0.5) for name in FEATURES}
    return {
        "base_rate": base_rate,
        "metric_choice": metric_for(base_rate, data["decision_policy"].iloc[0]),
        "account_ato_rate": account_rate,
        "sample_size_per_arm": float(
            sample_size_per_arm(account_rate, float(plan["relative_mde"]), float(plan["alpha"]), float(plan["power"]))
        ),
        "leaky_feature": max(separation, key=separation.__getitem__),
        "holdout_predictions": _holdout_key(data["holdout_logins"], hidden["holdout_labels"]),
    }


def _holdout_key(holdout: pd.DataFrame, labels: pd.DataFrame) -> dict[str, list]:
    """The holdout's login ids as text, in the file's row order, with each login's label."""
    by_id = labels.set_index("login_id")["is_ato"]
    return {
        "ids": [str(login_id) for login_id in holdout["login_id"]],
        "labels": [int(label) for label in by_id.loc[holdout["login_id"]]],
    }


def guide(seed: int, size: int) -> list[str]:
    """The interviewer guide for a seed: the imbalance, the leak, the policy and the test's size (markdown)."""
    plan = planted(seed, size)
    realised = plan["realised"]
    data = generate(seed, size)
    key = answer_key(data, hidden(seed, size))
    policy = data["decision_policy"].iloc[0]
    if plan["score_use"] == "probability":
        why = "the score is used as a probability, login by login, so it must be calibrated"
    elif key["metric_choice"] == "pr_auc":
        why = "one cut-off, and the cost-weighted takeover share is below one half, so the top of the ranking matters"
    else:
        why = "one cut-off, and the cost-weighted takeover share is above one half, so a broad band of the ranking matters"
    return [
        f"**Heavy imbalance:** {realised['login_base_rate']:.2%} of logins are takeovers "
        f"({realised['account_ato_rate']:.2%} of accounts; planted compromise rate {plan['compromise_rate']:.2%}). "
        "A strong answer says which unit the label and the experiment live on (login or account).",
        f"**Metric: {key['metric_choice']}**: {why} (costs: missed takeover {policy['cost_missed_takeover']:g}, "
        f"needless challenge {policy['cost_needless_challenge']:g}; cost-weighted share "
        f"{realised['cost_weighted_share']:.2f}). Accuracy is never right at this base rate.",
        f"**Leaky feature: {plan['leaky_feature']}** (key: {key['leaky_feature']}): AUC {realised['leaky_feature_auc']:.3f} "
        f"on its own in the export against {realised['best_honest_feature_auc']:.3f} for the best honest feature; "
        "it was backfilled from fraud investigations and is noise at login time, so a model that keeps it drops "
        f"below the holdout's top band ({realised['holdout_positives']} takeovers in the holdout). A strong "
        "answer asks what each column holds at login time.",
        f"**Experiment size:** {key['sample_size_per_arm']:,.0f} accounts per arm to detect a "
        f"{plan['relative_mde']:.0%} relative drop in the account takeover rate at alpha {ALPHA} and power "
        f"{POWER:.0%}. A strong answer notices how long that takes at this traffic, and names guardrails "
        "(challenge rate, login friction, support contacts).",
    ]
