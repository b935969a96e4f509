"""A filled-in scorecard as plain data: what the scorecard form produces and the services store.

It lives below both layers so that forms (which parse it) and services (which keep it) share it
without either importing the other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScorecardResult:
    """A validated scorecard as plain data for the service layer to store.

    `ratings` holds one of the rubric's levels or None for "not assessed"; in a draft a dimension the
    interviewer has not touched yet is absent, in a final scorecard every focus dimension is present.
    """

    rubric_slug: str
    rubric_hash: str
    ratings: dict[str, int | None]
    evidence: dict[str, str]
    red_flags: tuple[str, ...]
    takeaways: str
    recommendation: str | None
    is_final: bool
