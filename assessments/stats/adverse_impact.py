"""Adverse impact: selection and scoring rates by group, impact ratios, tests and standardised differences.

Definitions followed:

- selection rate and impact ratio (a group's rate over the highest group's), with the four-fifths
  rule: Uniform Guidelines on Employee Selection Procedures, 29 CFR 1607.4(D), and the agencies'
  Questions and Answers (1979), Q. 11-12;
- scoring rate (the share of a group scoring above the median of every scored person, unknown
  category included) and its impact ratio, and leaving out categories under 2% of the data:
  New York City, 6 RCNY 5-300 and 5-301 (the Local Law 144 bias audit rules, 2023);
- each comparison of a group with the highest-rate group carries Fisher's exact test (two-sided,
  `scipy.stats.fisher_exact`) and the pooled two-proportion z-test
  (`statsmodels.stats.proportion.proportions_ztest`) beside its counts, so a small group shows as such;
- standardised mean difference: Hedges' g (Cohen's d on the pooled SD times the small-sample
  correction J = 1 - 3 / (4 df - 1)), variance V_g = J^2 (n1 + n2) / (n1 n2) + g^2 / (2 (n1 + n2)),
  and a 95% normal interval g +/- 1.96 sqrt(V_g): Borenstein, Hedges, Higgins & Rothstein (2009),
  Introduction to Meta-Analysis, eqs. 4.18-4.24.

Pure pandas/numpy/scipy/statsmodels: a group label (missing = unknown category) and an outcome in,
frames out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

FOUR_FIFTHS = 0.8
SMALL_CATEGORY_SHARE = 0.02
Z_95 = 1.959963984540054

RATE_COLUMNS = [
    "group",
    "n",
    "selected",
    "rate",
    "impact_ratio",
    "below_four_fifths",
    "reference",
    "excluded",
    "fisher_p",
    "z",
    "z_p",
]
SMD_COLUMNS = ["group", "n", "mean", "sd", "reference", "g", "low", "high"]


@dataclass(frozen=True)
class RateTable:
    """Rates per group against the highest-rate group, and the people whose group is unknown."""

    rows: pd.DataFrame
    unknown: int
    reference: str | None
    cut: float | None = None


@dataclass(frozen=True)
class MeanDifference:
    """Hedges' g of group 1 minus group 2, with its variance and 95% interval."""

    d: float
    g: float
    variance: float
    low: float
    high: float


def fisher_p(selected_a: int, n_a: int, selected_b: int, n_b: int) -> float:
    """Two-sided Fisher's exact p-value for two groups' selected counts."""
    table = [[selected_a, n_a - selected_a], [selected_b, n_b - selected_b]]
    return float(stats.fisher_exact(table, alternative="two-sided").pvalue)


def two_proportion_z(selected_a: int, n_a: int, selected_b: int, n_b: int) -> tuple[float, float]:
    """The pooled two-proportion z statistic and its two-sided p; NaN when every or no one was selected."""
    pooled = (selected_a + selected_b) / (n_a + n_b)
    if pooled in (0.0, 1.0):
        return math.nan, math.nan
    z, p = proportions_ztest(np.array([selected_a, selected_b]), np.array([n_a, n_b]))
    return float(z), float(p)


def rate_table(groups: pd.Series, selected: pd.Series, *, exclude_small: bool = False) -> RateTable:
    """Selection rate per group, impact ratio against the highest-rate group, the four-fifths flag and tests.

    `groups` holds a label per person (missing: unknown category, counted, never compared);
    `selected` is 0/1 (or bool) per person. With `exclude_small`, a group under 2% of those with a
    known category is listed but neither compared nor a reference.
    """
    frame = pd.DataFrame({"group": groups.to_numpy(dtype=object), "selected": selected.astype(float).to_numpy()})
    frame = frame.dropna(subset=["selected"])
    known = frame[frame["group"].notna()]
    unknown = int(len(frame) - len(known))
    if known.empty:
        return RateTable(pd.DataFrame(columns=RATE_COLUMNS), unknown, None)
    counts = known.groupby("group", sort=True)["selected"].agg(["size", "sum"])
    rows = pd.DataFrame(
        {
            "group": counts.index.astype(str),
            "n": counts["size"].astype(int).to_numpy(),
            "selected": counts["sum"].astype(int).to_numpy(),
        }
    )
    rows["rate"] = rows["selected"] / rows["n"]
    rows["excluded"] = exclude_small & (rows["n"] / rows["n"].sum() < SMALL_CATEGORY_SHARE)
    compared = rows[~rows["excluded"]]
    if compared.empty or compared["rate"].max() == 0:
        rows = rows.assign(
            impact_ratio=np.nan, below_four_fifths=False, reference=False, fisher_p=np.nan, z=np.nan, z_p=np.nan
        )
        return RateTable(rows[RATE_COLUMNS], unknown, None)
    # Ties for the highest rate: the largest group is the reference (its rate is the best estimated).
    top = compared.sort_values(["rate", "n"], ascending=[False, False]).iloc[0]
    rows["reference"] = rows["group"] == top["group"]
    rows["impact_ratio"] = np.where(rows["excluded"], np.nan, rows["rate"] / top["rate"])
    rows["below_four_fifths"] = rows["impact_ratio"] < FOUR_FIFTHS
    tests = []
    for row in rows.itertuples():
        if row.excluded or row.reference:
            tests.append((math.nan, math.nan, math.nan))
            continue
        args = (int(row.selected), int(row.n), int(top["selected"]), int(top["n"]))
        tests.append((fisher_p(*args), *two_proportion_z(*args)))
    rows[["fisher_p", "z", "z_p"]] = pd.DataFrame(tests, index=rows.index)
    return RateTable(rows[RATE_COLUMNS], unknown, str(top["group"]))


def scoring_rate_table(groups: pd.Series, scores: pd.Series, *, exclude_small: bool = False) -> RateTable:
    """Scoring rates (share above the median of every scored person) per group, as Local Law 144 defines."""
    scored = scores.astype(float)
    keep = scored.notna()
    cut = float(scored[keep].median()) if keep.any() else None
    if cut is None:
        return RateTable(pd.DataFrame(columns=RATE_COLUMNS), int((groups.isna() & keep).sum()), None)
    above = (scored[keep] > cut).astype(int)
    table = rate_table(groups[keep], above, exclude_small=exclude_small)
    return RateTable(table.rows, table.unknown, table.reference, cut)


def hedges_g(mean_1: float, sd_1: float, n_1: int, mean_2: float, sd_2: float, n_2: int) -> MeanDifference:
    """Hedges' g of group 1 minus group 2 from summary statistics (Borenstein et al. 2009, eqs. 4.18-4.24)."""
    df = n_1 + n_2 - 2
    pooled = math.sqrt(((n_1 - 1) * sd_1**2 + (n_2 - 1) * sd_2**2) / df)
    d = (mean_1 - mean_2) / pooled if pooled > 0 else math.nan
    variance_d = (n_1 + n_2) / (n_1 * n_2) + d**2 / (2 * (n_1 + n_2))
    j = 1 - 3 / (4 * df - 1)
    g = j * d
    variance = j**2 * variance_d
    half = Z_95 * math.sqrt(variance)
    return MeanDifference(d, g, variance, g - half, g + half)


def mean_differences(groups: pd.Series, values: pd.Series, *, min_n: int = 2) -> pd.DataFrame:
    """Hedges' g of each group against the largest group (the reference), with 95% intervals.

    People with an unknown group or no value are left out; a group with fewer than `min_n` values
    is listed without g.
    """
    frame = pd.DataFrame({"group": groups.to_numpy(dtype=object), "value": values.astype(float).to_numpy()})
    frame = frame.dropna()
    if frame.empty:
        return pd.DataFrame(columns=SMD_COLUMNS)
    summary = frame.groupby("group", sort=True)["value"].agg(["size", "mean", "std"])
    reference = summary.sort_values("size", ascending=False, kind="stable").index[0]
    ref = summary.loc[reference]
    rows = []
    for group, row in summary.iterrows():
        g = low = high = math.nan
        if group != reference and row["size"] >= min_n and ref["size"] >= min_n:
            diff = hedges_g(row["mean"], row["std"], int(row["size"]), ref["mean"], ref["std"], int(ref["size"]))
            g, low, high = diff.g, diff.low, diff.high
        rows.append((str(group), int(row["size"]), row["mean"], row["std"], group == reference, g, low, high))
    return pd.DataFrame(rows, columns=SMD_COLUMNS)


def intersections(first: pd.Series, second: pd.Series) -> pd.Series:
    """Each person's intersectional category ("A × B"); unknown when either part is unknown."""
    joined = first.astype(object).str.cat(second.astype(object), sep=" × ")
    return joined.where(first.notna() & second.notna())
