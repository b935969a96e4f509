"""The journeys' axe-core audit fails on what a screen-reader user would meet, and says where."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.browser

BAD_PAGE = '<!doctype html><html lang="en"><title>Bad</title><main><img src="chart.png"><input></main></html>'


def test_the_audit_names_rule_impact_target_and_help_for_a_serious_violation(page: Page, accessibility):
    page.route("http://audit.test/**", lambda route: route.fulfill(content_type="text/html", body=BAD_PAGE))
    page.goto("http://audit.test/form")
    accessibility(page)
    problems = accessibility.blocking()
    accessibility.runs.clear()  # bad on purpose; audited once, so the teardown finds it seen
    assert any(p.startswith("http://audit.test/form: image-alt (critical)") for p in problems)
    assert any("label (critical)" in p and " at input - https://dequeuniversity.com/rules/axe/" in p for p in problems)
