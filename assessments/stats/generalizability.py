"""Inter-rater reliability for incomplete panels: a G study on every rating of a dimension.

Model (generalizability theory, persons x raters, crossed, random): y = mu + candidate + rater +
residual, with variances var_candidate, var_rater, var_residual. Rotating panels leave most
candidate x rater cells empty; the complete-block ICC uses only the block, this uses all ratings.

Estimates are Henderson's method III quadratic forms, exact in expectation for any incidence
pattern with at most one rating per cell (k candidates, m raters in g linked groups, n ratings):

- var_residual from the least-squares fit of candidate + rater: SSE / (n - k - (m - g));
- var_rater from the rater sum of squares after candidates, R(rater | candidate) = r'M^+r, with
  E = (m - g) var_residual + tr(M) var_rater (M as in `rater_effects`);
- var_candidate from the candidate sum of squares SSC = sum n_c (mean_c - mean)^2, with
  E = (k - 1) var_residual + (n - sum n_c^2 / n) var_candidate + (k - sum n_r^2 / n) var_rater.

On a complete matrix these are the two-way ANOVA estimates, so G(1) and G(k) equal ICC(2,1)
and ICC(2,k) (Shrout & Fleiss 1979). The coefficients are absolute (phi): candidates meet
different raters, so rater leniency is error:

    G(1) = var_candidate / (var_candidate + var_rater + var_residual)
    G(k) = var_candidate / (var_candidate + (var_rater + var_residual) / k)

with k the harmonic mean of raters per candidate (the panel size actually used). Intervals come
from a parametric bootstrap on the same incidence pattern (candidates, raters and residuals all
redrawn, so rater variance is part of the uncertainty, unlike a candidate-only bootstrap), drawn
through the estimator's sufficient statistics so a resample costs O(m^2) whatever the number of
ratings (`_Design.bootstrap_components`); their coverage is checked in
tests/stats/test_simulation.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from assessments.stats.ratings import (
    DEFAULT_MIN_N,
    CodedRatings,
    MinN,
    code_ratings,
    percentile_interval,
)

G_COLUMNS = [
    "dimension",
    "var_candidate",
    "var_rater",
    "var_residual",
    "g_one",
    "g_one_low",
    "g_one_high",
    "panel_size",
    "g_panel",
    "g_panel_low",
    "g_panel_high",
    "n_candidates",
    "n_raters",
    "n_ratings",
    "n_boot",
    "min_n_warning",
    "note",
]
# candidate draws per block of resamples above which SSC | b comes from its normal
# approximation (checked against full resamples of the ratings at 400 candidates)
EXACT_DRAWS = 50_000


class _Design:
    """The incidence pattern's fixed parts, shared by the estimate and every resample."""

    def __init__(self, candidate: np.ndarray, rater: np.ndarray) -> None:
        self.candidate, self.rater = candidate, rater
        self.k = int(candidate.max()) + 1
        self.m = int(rater.max()) + 1
        self.n = candidate.size
        self.incidence = sp.csr_matrix((np.ones(self.n), (candidate, rater)), shape=(self.k, self.m))
        self.per_candidate = np.asarray(self.incidence.sum(axis=1)).ravel()
        self.per_rater = np.asarray(self.incidence.sum(axis=0)).ravel()
        inverse = np.divide(1.0, self.per_candidate, out=np.zeros(self.k), where=self.per_candidate > 0)
        self.inverse = inverse
        scaled = sp.diags(inverse) @ self.incidence
        system = np.diag(self.per_rater) - (self.incidence.T @ scaled).toarray()
        n_groups, group = connected_components(sp.csr_matrix(system != 0), directed=False)
        used = self.per_rater > 0
        size = np.bincount(group, minlength=n_groups)[group]
        projector = (group[:, None] == group[None, :]) / size[:, None]
        self.pseudo_inverse = np.linalg.inv(system + projector) - projector
        self.trace = float(np.trace(system))
        self.mu, self.vectors = np.linalg.eigh(system)
        self.mu = np.clip(self.mu, 0.0, None)
        # m x m forms for the bootstrap: N'D^-1 N (= diag(n_r) - M), N'N, and N'n_c
        self.within = np.diag(self.per_rater) - system
        self.cooccurrence = (self.incidence.T @ self.incidence).toarray()
        self.rater_panel_sum = self.incidence.T @ self.per_candidate
        self.used_incidence = self.incidence[self.per_candidate > 0]
        self.sum_candidate_cube = float((self.per_candidate**3).sum())
        self.rank = int(used.sum()) - np.unique(group[used]).size
        self.sum_candidate_sq = float(self.per_candidate @ self.per_candidate)
        self.sum_rater_sq = float(self.per_rater @ self.per_rater)
        rated = self.per_candidate > 0
        self.k_used = int(rated.sum())
        self.panel = float(rated.sum() / inverse[rated].sum()) if rated.any() else np.nan

    def components(self, y: np.ndarray) -> np.ndarray:
        """(var_candidate, var_rater, var_residual) per column of y (n x B), untruncated."""
        y = y.reshape(self.n, -1)
        candidate_sum = np.column_stack(
            [np.bincount(self.candidate, weights=column, minlength=self.k) for column in y.T]
        )
        rater_sum = np.column_stack([np.bincount(self.rater, weights=column, minlength=self.m) for column in y.T])
        total = y.sum(axis=0)
        yky = (y**2).sum(axis=0) - (candidate_sum**2 * self.inverse[:, None]).sum(axis=0)
        rhs = rater_sum - self.incidence.T @ (candidate_sum * self.inverse[:, None])
        rater_ss = np.einsum("rb,rb->b", rhs, self.pseudo_inverse @ rhs)
        residual_dof = self.n - self.k_used - self.rank
        with np.errstate(divide="ignore", invalid="ignore"):
            residual = (yky - rater_ss) / residual_dof
            rater = (rater_ss - self.rank * residual) / self.trace
            candidate_ss = (candidate_sum**2 * self.inverse[:, None]).sum(axis=0) - total**2 / self.n
            candidate = (
                candidate_ss - (self.k_used - 1) * residual - (self.k_used - self.sum_rater_sq / self.n) * rater
            ) / (self.n - self.sum_candidate_sq / self.n)
        return np.vstack([candidate, rater, residual])

    def bootstrap_components(self, variances: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        """(3, n_boot) components re-estimated from data redrawn under the fitted model.

        The three quadratic forms are drawn from their joint distribution on this design
        instead of rebuilding n ratings per resample: SSE = var_residual chi^2 (independent of
        the rest); R(rater | candidate) from the rater effects b and the residual's part in
        M's eigenbasis; SSC from b (the same draw) and the candidate means' own parts, which
        are independent of both. Given b, SSC is a quadratic form in k independent normals:
        drawn exactly when k x n_boot is small, else from its normal approximation, whose
        moments reduce to m x m matrices; either way a resample costs O(m^2), not O(n).
        """
        candidate_var, rater_var, residual_var = np.clip(variances, 0.0, None)
        b = rng.normal(0.0, np.sqrt(rater_var), (self.m, n_boot))
        z = self.mu[:, None] * (self.vectors.T @ b) + np.sqrt(self.mu * residual_var)[:, None] * rng.normal(
            0.0, 1.0, (self.m, n_boot)
        )
        positive = self.mu > 1e-9 * max(float(self.mu.max(initial=0.0)), 1.0)
        rater_ss = (z[positive] ** 2 / self.mu[positive, None]).sum(axis=0)
        residual_dof = self.n - self.k_used - self.rank
        sse = residual_var * rng.chisquare(residual_dof, n_boot)
        # candidate means: x_c (candidate effect + own residual mean) + the mean of their raters' b
        n, d = self.n, self.per_candidate[self.per_candidate > 0]
        b_total = self.per_rater @ b  # sum over candidates of n_c * mean b = sum_r n_r b_r
        spread_b = np.einsum("rb,rb->b", b, self.within @ b) - b_total**2 / n  # b'Ab
        if self.k_used * n_boot <= EXACT_DRAWS:
            s2 = candidate_var + residual_var / d
            x = rng.normal(0.0, 1.0, (d.size, n_boot)) * np.sqrt(s2)[:, None]
            x_total = d @ x
            cross = np.einsum("cb,cb->b", x, self.used_incidence @ b)  # sum_c n_c x_c mean_c(b)
            candidate_ss = (
                (d[:, None] * x**2).sum(axis=0) + spread_b + 2 * cross - (x_total**2 + 2 * x_total * b_total) / n
            )
        else:
            a, e = candidate_var, residual_var
            mean_x = a * n + e * d.size - (a * self.sum_candidate_sq + e * n) / n
            trace_sq = (
                a**2 * self.sum_candidate_sq
                + 2 * a * e * n
                + e**2 * d.size
                - 2 * (a**2 * self.sum_candidate_cube + 2 * a * e * self.sum_candidate_sq + e**2 * n) / n
                + (a * self.sum_candidate_sq + e * n) ** 2 / n**2
            )
            # (A beta)' S (A beta) with S = diag(a + e / n_c): m x m forms in b
            weighted = a * self.cooccurrence + e * self.within
            h = a * self.rater_panel_sum + e * self.per_rater
            mean_b = b_total / n
            quad = (
                np.einsum("rb,rb->b", b, weighted @ b)
                - 2 * mean_b * (h @ b)
                + mean_b**2 * (a * self.sum_candidate_sq + e * n)
            )
            variance = 2 * trace_sq + 4 * quad
            candidate_ss = mean_x + spread_b + np.sqrt(np.clip(variance, 0.0, None)) * rng.normal(0.0, 1.0, n_boot)
        residual = sse / residual_dof
        rater = (rater_ss - self.rank * residual) / self.trace
        candidate = (candidate_ss - (self.k_used - 1) * residual - (self.k_used - self.sum_rater_sq / n) * rater) / (
            n - self.sum_candidate_sq / n
        )
        return np.vstack([candidate, rater, residual])


def g_coefficients(components: np.ndarray, panel: float) -> tuple[np.ndarray, np.ndarray]:
    """G(1) and G(panel) from (var_candidate, var_rater, var_residual) rows, negatives as 0."""
    candidate, rater, residual = np.clip(components, 0.0, None)
    error = rater + residual
    with np.errstate(divide="ignore", invalid="ignore"):
        one = candidate / (candidate + error)
        many = candidate / (candidate + error / panel)
    return one, many


def _dimension_g(
    dimension: object,
    candidate: np.ndarray,
    rater: np.ndarray,
    rating: np.ndarray,
    *,
    n_boot: int,
    seed: int,
    confidence: float,
    min_n: MinN,
) -> dict[str, object]:
    row: dict[str, object] = {column: np.nan for column in G_COLUMNS}
    # dense codes keep the design's matrices as small as the dimension
    candidate, candidates = pd.factorize(candidate)
    rater, raters = pd.factorize(rater)
    n_candidates, n_raters = len(candidates), len(raters)
    row.update(
        dimension=dimension,
        n_candidates=n_candidates,
        n_raters=n_raters,
        n_ratings=int(rating.size),
        n_boot=0,
        min_n_warning=True,
        note="",
    )
    if n_raters < 2 or rating.size - n_candidates < 2:
        row["note"] = "fewer than two interviewers or no candidate rated twice: G undefined"
        return row
    design = _Design(candidate, rater)
    if design.n - design.k_used - design.rank <= 0:
        row["note"] = "no residual degrees of freedom (every rating is needed to place a rater)"
        return row
    components = design.components(rating.astype(np.float64))[:, 0]
    if not np.isfinite(components).all() or components[0] + components[1] + components[2] <= 0:
        row["note"] = "ratings do not vary: G undefined"
        return row
    one, many = g_coefficients(components[:, None], design.panel)
    row.update(
        var_candidate=components[0],
        var_rater=components[1],
        var_residual=components[2],
        g_one=float(one[0]),
        g_panel=float(many[0]),
        panel_size=design.panel,
    )
    notes = []
    if (components < 0).any():
        notes.append("a negative variance estimate was set to 0")
    boot = n_boot if n_boot > 0 else 0
    if boot:
        rng = np.random.default_rng(seed)
        ones, manys = [], []
        for start in range(0, boot, 100):  # blocks bound the k x B matrix of the exact path
            block = min(100, boot - start)
            replicate = design.bootstrap_components(components, block, rng)
            block_one, block_many = g_coefficients(replicate, design.panel)
            ones.append(block_one)
            manys.append(block_many)
        low, high = percentile_interval(np.column_stack([np.concatenate(ones), np.concatenate(manys)]), confidence)
        row.update(g_one_low=low[0], g_one_high=high[0], g_panel_low=low[1], g_panel_high=high[1], n_boot=boot)
    warn = n_candidates < min_n.icc_units or n_raters < min_n.icc_raters
    if warn:
        notes.append(f"fewer than {min_n.icc_units} candidates or {min_n.icc_raters} raters")
    row.update(min_n_warning=warn, note="; ".join(notes))
    return row


def g_study(
    ratings: pd.DataFrame | CodedRatings,
    *,
    n_boot: int = 500,
    seed: int = 0,
    confidence: float = 0.95,
    min_n: MinN = DEFAULT_MIN_N,
) -> pd.DataFrame:
    """Variance components and G coefficients per dimension from every rating, with intervals.

    `g_one` is the reliability of one interviewer's rating, `g_panel` of the mean of a panel of
    `panel_size` (the harmonic mean of interviewers per candidate). Undefined values are NaN
    with the reason in `note`.

    :raises CalibrationInputError: the ratings frame breaks the input conventions.
    """
    coded = code_ratings(ratings)
    rows = []
    for code, dimension in enumerate(coded.dimensions):
        candidate, rater, rating = coded.for_dimension(code)
        rows.append(
            _dimension_g(
                dimension, candidate, rater, rating, n_boot=n_boot, seed=seed + code, confidence=confidence, min_n=min_n
            )
        )
    return pd.DataFrame(rows, columns=G_COLUMNS)
