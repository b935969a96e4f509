"""A/B test readout: a 14-day checkout experiment with seeded, sometimes absent, planted effects.

Each seed first draws the decision its experiment is built towards (ship, stop or iterate, a third
of seeds each), then the effects that lead there and how strongly (see `planted`):

- the primary effect: a clear gain, a clear loss, or none to speak of;
- a sample ratio mismatch, of one of two kinds. *Lost*: on one platform the treatment's exposure
  log loses a share of its users, chosen among users who never bought (a client that crashes
  before logging), so the surviving treatment users look better than they are; the test on all
  users shows it. *Relabelled*: on one app platform the new checkout opens in an in-app browser
  whose exposure event reports `web`, so a share of that platform's treatment users are logged
  as web users; the arms' totals stay balanced and only the per-platform tests show it;
- a novelty effect: an extra treatment lift that fades linearly to zero over the first days;
- a country whose effect reverses: the redesign drops that market's local payment method;
- a guardrail regression: treatment checkout latency is higher by a seeded share.

An SRM also shifts the platform mix of the treatment users, so the latency and country numbers
of an SRM seed inherit its bias, as they would in a real broken experiment.

`answer_key` reads only the frames, never these parameters, using the definitions in brief.md; near
a boundary the data can land on another decision than the one the seed was built towards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

DAYS = 14
EARLY_LAST_DAY = 7
PLATFORMS = ("ios", "android", "web")
COUNTRIES = ("US", "GB", "DE", "BR", "IN")
ARMS = ("control", "treatment")
DECISIONS = ("ship", "stop", "iterate")
SRM_ALPHA = 0.001
GUARDRAIL_ALPHA = 0.05
Z_975 = float(stats.norm.ppf(0.975))
MIN_SIZE = 500

_PLATFORM_MIX = np.array([0.35, 0.40, 0.25])
_COUNTRY_MIX = np.array([0.40, 0.15, 0.15, 0.15, 0.15])
# Per-session purchase probability factors; smaller markets and Android buy less often.
_PLATFORM_CONVERSION = np.array([1.05, 0.90, 1.00])
_COUNTRY_CONVERSION = np.array([1.00, 0.95, 0.90, 0.80, 0.75])
_COUNTRY_ORDER_VALUE = np.array([62.0, 55.0, 58.0, 31.0, 22.0])
_PLATFORM_LATENCY_MS = np.array([650.0, 900.0, 1150.0])
# Markets whose local payment method (invoice, Pix/boleto, UPI) the redesign can drop.
_REVERSAL_COUNTRIES = ("DE", "BR", "IN")
# App platforms whose new checkout can open in an in-app browser that reports itself as web.
_WEBVIEW_PLATFORMS = ("ios", "android")
# Session-level lift ranges: at the default size a gain comes out as a per-user interval above zero,
# a loss as one below zero, and "none" as one across zero. A reversed market adds 0.06 to a gain to
# make up for its drag on the total.
_BASE_LIFT = {"gain": (0.10, 0.16), "none": (-0.03, 0.02), "loss": (-0.16, -0.09)}
# What makes an iterate seed iterate: an SRM of either kind (relabelled, seen only per platform, twice
# as often), or with no SRM a gain bought with latency or no clear effect.
_ITERATE_KINDS = ("lost", "relabelled", "relabelled", "no-srm")


def _parameters(seed: int) -> dict[str, object]:
    """The seed's experiment design and planted effects, drawn from their own stream."""
    rng = np.random.default_rng([seed, 0])
    # Each run of three seeds (0-2, 3-5, ...) holds each decision once, in an order drawn per run, and
    # each four runs' iterate seeds hold the kinds of _ITERATE_KINDS once each: any dozen seeds in a
    # row is balanced, and no answer follows from the seed number without the generator.
    run = seed // len(DECISIONS)
    target = DECISIONS[int(np.random.default_rng([run, 2]).permutation(len(DECISIONS))[seed % len(DECISIONS)])]
    kinds = np.random.default_rng([run // len(_ITERATE_KINDS), 3]).permutation(len(_ITERATE_KINDS))
    iterate_kind = _ITERATE_KINDS[int(kinds[run % len(_ITERATE_KINDS)])]
    srm_kind, guardrail = None, False
    if target == "ship":
        effect = "gain"
    elif target == "stop":
        # Either the redesign hurts, or it gains nothing and is slower.
        guardrail = bool(rng.random() < 0.5)
        effect = "none" if guardrail else "loss"
    elif iterate_kind == "no-srm":
        # A gain bought with latency, or no clear effect either way.
        guardrail = bool(rng.random() < 0.5)
        effect = "gain" if guardrail else "none"
    else:
        # A broken experiment, whatever the change does.
        srm_kind = iterate_kind
        effect = str(rng.choice(list(_BASE_LIFT)))
        guardrail = bool(rng.random() < 0.3)
    base_lift = float(rng.uniform(*_BASE_LIFT[effect]))
    # Only a clear overall gain can have a market that reverses it, and keeps its decision under a
    # novelty effect.
    reversal = effect == "gain" and bool(rng.random() < 0.5)
    if reversal:
        base_lift += 0.06
    novelty = effect == "gain" and bool(rng.random() < 0.6)
    srm_platform, srm_share = None, 0.0
    if srm_kind == "lost":
        srm_platform, srm_share = str(rng.choice(PLATFORMS)), float(rng.uniform(0.30, 0.42))
    elif srm_kind == "relabelled":
        srm_platform, srm_share = str(rng.choice(_WEBVIEW_PLATFORMS)), float(rng.uniform(0.12, 0.25))
    return {
        "target_decision": target,
        "base_lift": base_lift,
        "srm": {
            "present": srm_kind is not None,
            "kind": srm_kind,
            "platform": srm_platform,
            "share": srm_share,
        },
        "novelty": {
            "present": novelty,
            "day1_extra_lift": float(rng.uniform(0.30, 0.50)) if novelty else 0.0,
            "fade_days": int(rng.integers(5, 9)) if novelty else 0,
        },
        "reversal": {
            "present": reversal,
            "country": str(rng.choice(_REVERSAL_COUNTRIES)) if reversal else None,
            "lift": float(rng.uniform(-0.40, -0.25)) if reversal else None,
        },
        "guardrail": {
            "present": guardrail,
            "latency_increase": float(rng.uniform(0.04, 0.12)) if guardrail else 0.0,
        },
        "platform_mix": _jittered(rng, _PLATFORM_MIX),
        "country_mix": _jittered(rng, _COUNTRY_MIX),
    }


def _jittered(rng: np.random.Generator, shares: np.ndarray) -> list[float]:
    raw = shares * np.exp(rng.normal(0.0, 0.1, size=shares.size))
    return [float(x) for x in raw / raw.sum()]


def planted(seed: int, size: int) -> dict[str, object]:
    """What this seed planted and how strongly (size does not change the parameters).

    Lifts are relative changes of a treatment session's purchase probability (per-user lifts come
    out smaller, as repeat sessions saturate). An SRM's `share` is, for `lost`, the share of the
    platform's treatment users missing from the logs and, for `relabelled`, the share logged as web
    users. `latency_increase` is relative. `target_decision` is what the seed was built towards.
    """
    params = _parameters(seed)
    keys = ("target_decision", "base_lift", "srm", "novelty", "reversal", "guardrail")
    return {key: params[key] for key in keys}


def _session_lift(params: dict, country: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Relative lift of a treatment session's purchase probability, by country and day."""
    lift = np.full(country.shape, params["base_lift"])
    reversal = params["reversal"]
    if reversal["present"]:
        lift[country == COUNTRIES.index(reversal["country"])] = reversal["lift"]
    novelty = params["novelty"]
    extra = np.zeros(day.shape)
    if novelty["present"]:
        fade = novelty["fade_days"]
        extra = novelty["day1_extra_lift"] * np.clip(1.0 - (day - 1) / fade, 0.0, None)
    return (1.0 + lift) * (1.0 + extra) - 1.0


def generate(seed: int, size: int) -> dict[str, pd.DataFrame]:
    """The candidate's data: users.csv (one row per exposed user) and sessions.csv.

    :raises ValueError: when size is below MIN_SIZE, where a country-arm cell could be empty.
    """
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} users, got {size}")
    params = _parameters(seed)
    rng = np.random.default_rng([seed, 1])
    n = int(size)
    treated = rng.random(n) < 0.5
    platform = rng.choice(len(PLATFORMS), size=n, p=params["platform_mix"])
    country = rng.choice(len(COUNTRIES), size=n, p=params["country_mix"])
    new_user = rng.random(n) < 0.4
    # Regulars come back in the first days of the test; new customers arrive throughout it.
    first_day = np.where(new_user, rng.integers(1, DAYS + 1, n), np.minimum(rng.geometric(0.35, n), DAYS))
    return_rate = np.where(new_user, 0.07, 0.16) * np.exp(rng.normal(0.0, 0.3, n))
    days = np.arange(1, DAYS + 1)
    visits = (days[None, :] == first_day[:, None]) | (
        (days[None, :] > first_day[:, None]) & (rng.random((n, DAYS)) < return_rate[:, None])
    )
    user_idx, day_idx = np.nonzero(visits)
    day = days[day_idx]

    intent = np.where(new_user, 0.13, 0.18) * np.exp(rng.normal(0.0, 0.35, n))
    p_session = (intent * _PLATFORM_CONVERSION[platform] * _COUNTRY_CONVERSION[country])[user_idx]
    lift = _session_lift(params, country[user_idx], day)
    p_session = np.clip(p_session * np.where(treated[user_idx], 1.0 + lift, 1.0), 0.0, 0.9)
    converted = rng.random(user_idx.size) < p_session
    order_value = _COUNTRY_ORDER_VALUE[country[user_idx]] * rng.lognormal(0.0, 0.6, user_idx.size)
    revenue = np.where(converted, np.round(order_value, 2), 0.0)

    device_speed = rng.normal(0.0, 0.3, n)
    slowdown = 1.0 + params["guardrail"]["latency_increase"] * treated
    latency = (
        _PLATFORM_LATENCY_MS[platform[user_idx]]
        * np.exp(device_speed[user_idx] + rng.normal(0.0, 0.35, user_idx.size))
        * slowdown[user_idx]
    )

    keep = np.ones(n, dtype=bool)
    logged_platform = platform.copy()
    srm = params["srm"]
    on_platform = treated & (platform == PLATFORMS.index(srm["platform"])) if srm["present"] else None
    if srm["kind"] == "lost":
        buyers = np.zeros(n, dtype=bool)
        buyers[user_idx[converted]] = True
        candidates = np.flatnonzero(on_platform & ~buyers)
        lost = min(candidates.size, int(round(srm["share"] * on_platform.sum())))
        keep[rng.choice(candidates, size=lost, replace=False)] = False
    elif srm["kind"] == "relabelled":
        candidates = np.flatnonzero(on_platform)
        moved = rng.choice(candidates, size=int(round(srm["share"] * candidates.size)), replace=False)
        logged_platform[moved] = PLATFORMS.index("web")

    user_ids = np.sort(rng.choice(np.arange(100_000, 100_000 + 20 * n), size=n, replace=False))
    users = pd.DataFrame(
        {
            "user_id": user_ids,
            "arm": np.where(treated, ARMS[1], ARMS[0]),
            "platform": np.array(PLATFORMS)[logged_platform],
            "country": np.array(COUNTRIES)[country],
            "user_type": np.where(new_user, "new", "returning"),
        }
    )[keep].reset_index(drop=True)
    session_keep = keep[user_idx]
    sessions = pd.DataFrame(
        {
            "user_id": user_ids[user_idx],
            "day": day,
            "converted": converted.astype(int),
            "revenue": revenue,
            "latency_ms": np.round(latency).astype(int),
        }
    )[session_keep]
    sessions = sessions.sort_values(["day", "user_id"], kind="stable").reset_index(drop=True)
    return {"users": users, "sessions": sessions}


def _two_arm_rates(converted: np.ndarray, treated: np.ndarray) -> tuple[float, float, int, int]:
    """(control rate, treatment rate, control n, treatment n) of 0/1 outcomes split by arm."""
    nt = int(treated.sum())
    nc = int(treated.size - nt)
    return float(converted[~treated].sum() / nc), float(converted[treated].sum() / nt), nc, nt


def _lift_interval(converted: np.ndarray, treated: np.ndarray) -> tuple[float, float, float]:
    """Relative lift of 0/1 outcomes and its 95% interval on the log scale of the rate ratio (Katz).

    The interval is exp(log(pt / pc) +- z * sqrt(1/xt - 1/nt + 1/xc - 1/nc)) - 1, x counting the
    ones. It is skewed: both bounds sit about ratio * half-width^2 / 2 above the delta method's, and
    the other symmetric intervals (pooled or unpooled Wald, Student's t) miss it on at least one
    bound by as much or more; at the default size that is 8.5e-4 or more, 8x the check's tolerance.
    """
    xt, xc = float(converted[treated].sum()), float(converted[~treated].sum())
    nt = float(treated.sum())
    nc = float(treated.size) - nt
    ratio = (xt / nt) / (xc / nc)
    half = Z_975 * np.sqrt(1 / xt - 1 / nt + 1 / xc - 1 / nc)
    return float(ratio - 1), float(ratio * np.exp(-half) - 1), float(ratio * np.exp(half) - 1)


def _srm_pvalue(treated: np.ndarray) -> float:
    """Pearson chi-square p-value of the arm counts against the intended 50/50 split."""
    counts = np.array([treated.size - treated.sum(), treated.sum()], dtype=float)
    expected = counts.sum() / 2
    statistic = float(((counts - expected) ** 2 / expected).sum())
    return float(stats.chi2.sf(statistic, df=1))


def decide(srm_present: bool, ci_low: float, ci_high: float, guardrail_regressed: bool, late_lift: float) -> str:
    """The brief's decision rule: 'ship', 'iterate' or 'stop'."""
    if srm_present:
        return "iterate"
    if ci_high < 0 or (guardrail_regressed and ci_low <= 0):
        return "stop"
    if ci_low > 0 and not guardrail_regressed and late_lift > 0:
        return "ship"
    return "iterate"


def answer_key(data: dict[str, pd.DataFrame]) -> dict[str, object]:
    """Every checkable value, computed from the frames with the definitions in brief.md."""
    users, sessions = data["users"], data["sessions"]
    treated = users["arm"].to_numpy() == ARMS[1]
    bought = sessions.groupby("user_id")["converted"].max()
    user_converted = users["user_id"].map(bought).fillna(0).to_numpy(dtype=float)
    pc, pt, _, _ = _two_arm_rates(user_converted, treated)
    lift, low, high = _lift_interval(user_converted, treated)

    platform = users["platform"].to_numpy()
    srm_pvalues = {"all": _srm_pvalue(treated)}
    srm_pvalues.update({p: _srm_pvalue(treated[platform == p]) for p in PLATFORMS})
    srm_present = min(srm_pvalues.values()) < SRM_ALPHA

    arm_of_user = pd.Series(treated, index=users["user_id"].to_numpy())
    session_treated = arm_of_user.reindex(sessions["user_id"].to_numpy()).to_numpy(dtype=bool)
    session_converted = sessions["converted"].to_numpy(dtype=float)
    early = sessions["day"].to_numpy() <= EARLY_LAST_DAY
    periods = {}
    for name, in_period in (("early", early), ("late", ~early)):
        rc, rt, _, _ = _two_arm_rates(session_converted[in_period], session_treated[in_period])
        periods[name] = (rt - rc) / rc

    # A reversal needs both intervals to exclude zero, on opposite sides.
    overall_sign = 1.0 if low > 0 else -1.0 if high < 0 else 0.0
    country = users["country"].to_numpy()
    country_lifts, reversed_candidates = {}, []
    for name in COUNTRIES:
        in_country = country == name
        c_lift, c_low, c_high = _lift_interval(user_converted[in_country], treated[in_country])
        country_lifts[name] = c_lift
        country_sign = 1.0 if c_low > 0 else -1.0 if c_high < 0 else 0.0
        if overall_sign != 0 and country_sign == -overall_sign:
            reversed_candidates.append((abs(c_lift), name))
    reversed_country = max(reversed_candidates)[1] if reversed_candidates else "none"

    user_latency = users["user_id"].map(sessions.groupby("user_id")["latency_ms"].mean()).to_numpy()
    lat_c = user_latency[~treated & ~np.isnan(user_latency)]
    lat_t = user_latency[treated & ~np.isnan(user_latency)]
    guardrail_pvalue = float(stats.ttest_ind(lat_t, lat_c, equal_var=False).pvalue)
    guardrail_regressed = bool(lat_t.mean() > lat_c.mean() and guardrail_pvalue < GUARDRAIL_ALPHA)

    return {
        "conversion": {"control": pc, "treatment": pt},
        "relative_lift": lift,
        "lift_ci": {"low": low, "high": high},
        "srm_pvalues": srm_pvalues,
        "srm_present": bool(srm_present),
        "early_late_lift": {"early": float(periods["early"]), "late": float(periods["late"])},
        "country_lifts": country_lifts,
        "reversed_country": reversed_country,
        "guardrail_pvalue": guardrail_pvalue,
        "guardrail_regressed": guardrail_regressed,
        "decision": decide(bool(srm_present), low, high, guardrail_regressed, float(periods["late"])),
    }


def guide(seed: int, size: int) -> list[str]:
    """The interviewer guide for a seed: what was planted and what the key reads in this seed's data (markdown)."""
    params, key = planted(seed, size), answer_key(generate(seed, size))
    srm, novelty, reversal, guardrail = params["srm"], params["novelty"], params["reversal"], params["guardrail"]
    low, high = key["lift_ci"]["low"], key["lift_ci"]["high"]
    early, late = key["early_late_lift"]["early"], key["early_late_lift"]["late"]
    pvalues = key["srm_pvalues"]
    lines = [
        f"Primary effect: planted session lift {params['base_lift']:+.1%}; user conversion "
        f"{key['conversion']['control']:.2%} (control) vs {key['conversion']['treatment']:.2%} (treatment), "
        f"relative lift {key['relative_lift']:+.1%} (95% CI {low:+.1%} to {high:+.1%})."
    ]
    if srm["kind"] == "lost":
        lines.append(
            f"**SRM present (lost exposures):** {srm['share']:.0%} of {srm['platform']} treatment users who never "
            f"bought are missing from the log; SRM p = {pvalues['all']:.2g} on all users, "
            f"{pvalues[srm['platform']]:.2g} on {srm['platform']}. A strong answer refuses to read the lift "
            "(the surviving treatment users look better than they are) until the logging is fixed."
        )
    elif srm["kind"] == "relabelled":
        lines.append(
            f"**SRM present (relabelled platform):** {srm['share']:.0%} of {srm['platform']} treatment users are "
            f"logged as web; the all-users test does not see it (p = {pvalues['all']:.2g}), only the per-platform "
            f"tests do ({srm['platform']} p = {pvalues[srm['platform']]:.2g}, web p = {pvalues['web']:.2g}). "
            "A strong answer tests per platform unprompted and suspects the in-app browser's exposure event."
        )
    else:
        lines.append(
            f"No SRM planted: smallest SRM p-value {min(pvalues.values()):.2g} (all users {pvalues['all']:.2g}). "
            "A strong answer checks the split, says it is healthy, and moves on."
        )
    if novelty["present"]:
        lines.append(
            f"**Novelty effect present:** day-1 extra lift +{novelty['day1_extra_lift']:.0%}, fading over "
            f"{novelty['fade_days']} days; session lift {early:+.1%} in days 1-7 vs {late:+.1%} in days 8-14. "
            "A strong answer bases the decision on the late period, not the pooled lift."
        )
    else:
        lines.append(
            f"No novelty effect planted: session lift {early:+.1%} in days 1-7 vs {late:+.1%} in days 8-14 "
            "(nothing planted fades; a strong answer does not call a gap here a novelty effect)."
        )
    if reversal["present"]:
        measured = key["country_lifts"][reversal["country"]]
        lines.append(
            f"**{reversal['country']} reverses:** planted lift {reversal['lift']:+.0%}, measured {measured:+.1%} "
            f"(key's reversed country: {key['reversed_country']}). The redesign drops that market's local "
            "payment method: a strong answer proposes a per-market rollout or a fix, not a global ship."
        )
    else:
        worst = min(key["country_lifts"], key=key["country_lifts"].__getitem__)
        lines.append(
            f"No country reverses (key: {key['reversed_country']}); the lowest country lift is {worst} at "
            f"{key['country_lifts'][worst]:+.1%}. Slicing by country and finding nothing is a finding too."
        )
    if guardrail["present"]:
        lines.append(
            f"**Latency guardrail regressed:** planted +{guardrail['latency_increase']:.0%}; Welch p = "
            f"{key['guardrail_pvalue']:.2g} (key: regressed = {key['guardrail_regressed']}). A strong answer "
            "turns it into a trade-off the PM can weigh, in milliseconds against conversion."
        )
    else:
        lines.append(
            f"No latency regression planted: Welch p = {key['guardrail_pvalue']:.2g} "
            f"(key: regressed = {key['guardrail_regressed']}; a regression needs treatment slower and p < "
            f"{GUARDRAIL_ALPHA})."
        )
    lines.append(
        f"Decision by the brief's rule on this data: **{key['decision']}** (the seed was built towards "
        f"{params['target_decision']}). A strong recommendation leads with it and the one or two facts above "
        "that drive it."
    )
    return lines
