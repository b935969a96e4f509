"""`flask cases validate` on the real cases: solutions earn full marks, release notebooks zero."""

from __future__ import annotations

import pytest

from assessments.config import PROJECT_ROOT
from assessments.services import catalog

pytestmark = pytest.mark.sandbox


def test_every_case_validates_through_the_real_pipeline(app, runner):
    app.config["CASES_DIR"] = str(PROJECT_ROOT / "cases")
    catalog.forget_loaded_cases()
    try:
        result = runner.invoke(args=["cases", "validate", "--seeds", "2"])
    finally:
        catalog.forget_loaded_cases()
    assert result.exit_code == 0, result.output
    for slug in ("ab-readout", "error-analysis", "product-design", "review-leakage"):
        assert result.output.count(f"{slug} ") == 2, result.output
    assert "FAILED" not in result.output
    assert "All 4 case(s) valid on 2 seed(s)." in result.output
