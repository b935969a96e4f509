"""Rater effects from a mixed model: candidates fixed, raters random (shrunken), fitted by REML.

Model: y = candidate effect + rater effect + noise, rater effects ~ N(0, sigma_r^2), noise
~ N(0, sigma_e^2). Candidates are fixed effects, so who saw whom is adjusted for exactly as in
least squares (final-round interviewers who only meet strong candidates are not called lenient).
Eliminating the candidates (Schur complement of the sparse normal equations) leaves one m x m
matrix M = diag(n_r) - N' diag(1/n_c) N and a vector r (N: candidate x rater counts); with its
eigendecomposition M = U diag(mu) U' the REML criterion for lambda = sigma_e^2 / sigma_r^2 is

    -2 log L_R(lambda) = (n - k) log Q(lambda) - m log(lambda) + sum log(mu_i + lambda),
    Q(lambda) = y'Ky - sum (U'r)_i^2 / (mu_i + lambda)

(k candidates, K the within-candidate projector), a one-dimensional search at O(m) per step.
The rater effects are the BLUPs b = (M + lambda I)^-1 r (Henderson's mixed-model equations with
the candidates absorbed), whose prediction-error covariance is sigma_e^2 (M + lambda I)^-1 when
lambda is known: a rater with little data is pulled toward zero instead of pulling everyone
else. Because lambda is estimated from a handful of raters, the reported effects and variances
average the BLUP over lambda's REML likelihood (`integrated_effects`) instead of plugging in
its estimate.

Effects are reported against a precision-weighted reference: the average rater, each weighted by
M's diagonal, the information their scorecards carry about them (a scorecard counts by how many
other raters saw the same candidate; a rater sharing no candidate weighs nothing). Within each
group of raters linked by shared candidates the weights sum to one. The fixed-effects
(least-squares) estimate is reported beside it against the same reference.

The caller decides what y is: for the overall effect, one mean per scorecard (a rater's halo
carries across dimensions, so dimension ratings are not independent; scorecard means give
honest standard errors); per dimension, the ratings themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import optimize, stats
from scipy.sparse.csgraph import connected_components

FAMILY_ALPHA = 0.05
_LOG_LAMBDA = (-14.0, 14.0)


@dataclass(frozen=True, eq=False)
class RaterFit:
    """Per rater (arrays of length n_raters; NaN where not estimable) and the variance components."""

    effect: np.ndarray
    se: np.ndarray
    fixed_effect: np.ndarray
    fixed_se: np.ndarray
    reference_weight: np.ndarray
    group_size: np.ndarray
    n: np.ndarray
    rater_sd: float
    residual_sd: float
    fixed_residual_sd: float


def _groups(system: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected groups of raters (linked by a shared candidate) and each rater's group size."""
    n_groups, group = connected_components(sp.csr_matrix(system != 0), directed=False)
    return group, np.bincount(group, minlength=n_groups)[group]


def _reference_matrix(weight: np.ndarray, group: np.ndarray) -> np.ndarray:
    """R with (R b)_r = the weighted mean of b over r's group (weights normalised per group)."""
    totals = np.bincount(group, weights=weight)
    normalised = np.divide(weight, totals[group], out=np.zeros_like(weight), where=totals[group] > 0)
    same = group[:, None] == group[None, :]
    return same * normalised[None, :]


def _contrast_variance(contrast: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """diag(C S C') without forming the product's off-diagonal."""
    return np.einsum("ij,ij->i", contrast @ covariance, contrast)


def reml_criterion(log_lambda: float, mu: np.ndarray, z: np.ndarray, yky: float, dof: int) -> float:
    """-2 log REML likelihood, profiled over sigma_e^2, at lambda = exp(log_lambda) (+ a constant)."""
    lam = np.exp(log_lambda)
    q = yky - float(np.sum(z**2 / (mu + lam)))
    if q <= 0:
        return -np.inf if dof > 0 else np.inf
    return dof * np.log(q) - mu.size * log_lambda + float(np.sum(np.log(mu + lam)))


def _criterion_on_grid(grid: np.ndarray, mu: np.ndarray, z: np.ndarray, yky: float, dof: int) -> np.ndarray:
    """`reml_criterion` at every log lambda of `grid` in one matrix product."""
    lam = np.exp(grid)
    q = yky - (z**2) @ (1.0 / (mu[:, None] + lam[None, :]))
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (
            dof * np.log(np.where(q > 0, q, np.nan)) - mu.size * grid + np.log(mu[:, None] + lam[None, :]).sum(axis=0)
        )
    return np.where(q > 0, values, -np.inf if dof > 0 else np.inf)


def reml_lambda(mu: np.ndarray, z: np.ndarray, yky: float, dof: int) -> float:
    """The REML estimate of sigma_e^2 / sigma_r^2 (np.inf when the rater variance is zero)."""

    def criterion(log_lambda: float) -> float:
        return reml_criterion(log_lambda, mu, z, yky, dof)

    # a coarse grid first (the criterion can be flat or have a boundary optimum), then refine
    grid = np.linspace(*_LOG_LAMBDA, 57)
    values = _criterion_on_grid(grid, mu, z, yky, dof)
    best = int(np.argmin(values))
    if best == grid.size - 1:
        return np.inf  # sigma_r^2 at (or indistinguishable from) zero
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    result = optimize.minimize_scalar(criterion, bounds=(low, high), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(result.x))


def fit_rater_effects(unit: np.ndarray, rater: np.ndarray, y: np.ndarray, n_raters: int) -> RaterFit:
    """Shrunken and fixed rater effects in y ~ unit (fixed) + rater (random), one y per cell.

    `unit` and `rater` are integer codes (a unit is a candidate); raters without data, or who
    share no unit with another rater, get NaN effects.
    """
    n_units = int(unit.max()) + 1 if unit.size else 0
    counts = sp.csr_matrix((np.ones(unit.size), (unit, rater)), shape=(n_units, n_raters))
    per_unit = np.asarray(counts.sum(axis=1)).ravel()
    per_rater = np.asarray(counts.sum(axis=0)).ravel()
    unit_sum = np.bincount(unit, weights=y, minlength=n_units)
    rater_sum = np.bincount(rater, weights=y, minlength=n_raters)
    inverse = np.divide(1.0, per_unit, out=np.zeros_like(per_unit), where=per_unit > 0)
    scaled = counts.copy()
    scaled.data *= np.repeat(inverse, np.diff(counts.indptr))
    system = np.diag(per_rater) - (counts.T @ scaled).toarray()
    rhs = rater_sum - counts.T @ (unit_sum * inverse)
    yky = float(y @ y - unit_sum @ (unit_sum * inverse))
    group, group_size = _groups(system)
    information = np.clip(np.diag(system), 0.0, None)
    linked = (per_rater > 0) & (information > 1e-12)
    dof = unit.size - int((per_unit > 0).sum())

    # fixed effects: M^+ = (M + P)^-1 - P, P the projector on each group's constant vector
    projector = (group[:, None] == group[None, :]) / group_size[:, None]
    pseudo_inverse = np.linalg.inv(system + projector) - projector
    fixed = pseudo_inverse @ rhs
    rank = int(linked.sum()) - np.unique(group[linked]).size
    fixed_dof = dof - rank
    fixed_q = yky - float(rhs @ fixed)
    fixed_sigma2 = max(fixed_q, 0.0) / fixed_dof if fixed_dof > 0 else np.nan

    # random rater effects on the raters with data (raters without data are not in the model)
    active = np.flatnonzero(per_rater > 0)
    mu, vectors = np.linalg.eigh(system[np.ix_(active, active)])
    mu = np.clip(mu, 0.0, None)
    z = vectors.T @ rhs[active]
    lam = reml_lambda(mu, z, yky, dof) if dof > 0 and active.size > 1 else np.inf
    blup = np.zeros(n_raters)
    covariance = np.zeros((n_raters, n_raters))
    if np.isfinite(lam):
        q = yky - float(np.sum(z**2 / (mu + lam)))
        sigma2 = max(q, 0.0) / dof
        inverse_lam = (vectors / (mu + lam)) @ vectors.T
        blup[active] = inverse_lam @ rhs[active]
        covariance[np.ix_(active, active)] = sigma2 * inverse_lam
        rater_sd = float(np.sqrt(sigma2 / lam))
    else:
        sigma2 = max(yky, 0.0) / dof if dof > 0 else np.nan
        rater_sd = 0.0

    reference = _reference_matrix(np.where(linked, information, 0.0), group)
    contrast = np.eye(n_raters) - reference
    effect = contrast @ blup
    variance = _contrast_variance(contrast, covariance)
    if dof > 0 and active.size > 1:
        effect, variance = integrated_effects(mu, vectors, z, yky, dof, contrast[:, active])
    se = np.sqrt(np.clip(variance, 0.0, None))
    fixed_effect = contrast @ fixed
    fixed_se = np.sqrt(np.clip(_contrast_variance(contrast, pseudo_inverse), 0.0, None) * fixed_sigma2)
    nan = np.full(n_raters, np.nan)
    total = np.bincount(group, weights=np.where(linked, information, 0.0))
    weight = np.divide(np.where(linked, information, 0.0), total[group], out=np.zeros(n_raters), where=total[group] > 0)
    return RaterFit(
        effect=np.where(linked, effect, nan),
        se=np.where(linked, se, nan),
        fixed_effect=np.where(linked, fixed_effect, nan),
        fixed_se=np.where(linked, fixed_se, nan),
        reference_weight=weight,
        group_size=np.where(per_rater > 0, group_size, 0),
        n=per_rater.astype(np.int64),
        rater_sd=rater_sd,
        residual_sd=float(np.sqrt(sigma2)) if np.isfinite(sigma2) else np.nan,
        fixed_residual_sd=float(np.sqrt(fixed_sigma2)) if np.isfinite(fixed_sigma2) else np.nan,
    )


def integrated_effects(
    mu: np.ndarray,
    vectors: np.ndarray,
    z: np.ndarray,
    yky: float,
    dof: int,
    contrast: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Effects and their variances averaged over lambda's REML likelihood, not plugged in.

    Plugging in the REML lambda treats the rater variance as known; with a dozen raters it is
    not, and those intervals covered 89-92% instead of 95% in our simulations. Here the BLUP
    and its prediction variance are computed on a grid of log lambda and averaged with weights
    exp(-criterion / 2) x sigma_r (a uniform prior on the rater SD, after Gelman 2006): the
    posterior mean and variance of each effect, with sigma_e at its value given lambda.
    `contrast` maps the active raters' effects to the reported ones (against the reference).
    """
    grid = np.linspace(*_LOG_LAMBDA, 225)
    lam = np.exp(grid)
    inverse = 1.0 / (mu[:, None] + lam[None, :])
    q = np.maximum(yky - (z**2) @ inverse, 1e-300)
    criterion = dof * np.log(q) - mu.size * grid + np.log(mu[:, None] + lam[None, :]).sum(axis=0)
    sigma2 = q / dof
    log_weight = -0.5 * criterion + 0.5 * (np.log(sigma2) - grid)  # + log sigma_r
    weight = np.exp(log_weight - log_weight.max())
    weight /= weight.sum()
    rotated = contrast @ vectors
    effects = rotated @ (z[:, None] * inverse)
    prediction = (rotated**2) @ inverse * sigma2[None, :]
    mean = effects @ weight
    variance = (prediction + effects**2) @ weight - mean**2
    return mean, np.clip(variance, 0.0, None)


def corrected_z(n_compared: int, family_alpha: float = FAMILY_ALPHA) -> float:
    """The two-sided Bonferroni critical value for `n_compared` raters at family level alpha."""
    return float(stats.norm.ppf(1.0 - family_alpha / (2.0 * max(n_compared, 1))))
