"""In a real browser: a hiring manager names the most lenient interviewer and the least
reliable dimension from the calibration page on the demo data alone, with no console errors,
narrows it to one interviewer both ways, downloads the tables, and follows the agenda to a debrief."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from playwright.sync_api import Page, expect

from assessments.models import Role
from assessments.services import accounts, demo, scorecards
from assessments.services.demo_panels import planted_story

pytestmark = pytest.mark.browser


def test_hiring_manager_reads_the_calibration_story(app, live_server, page: Page, screenshot):
    with app.app_context():
        demo.seed_demo()
        interviewers = [u for u in demo.demo_users() if u.role == Role.INTERVIEWER]
        order = [email for email, _, role in demo.DEMO_USERS if role == Role.INTERVIEWER]
        interviewers.sort(key=lambda u: order.index(u.email))
        story = planted_story(interviewers, list(scorecards.rubric_for().dimension_ids))
        lenient_name = accounts.find_user_by_email(story.most_lenient_email).display_name
        noisy_name = scorecards.rubric_for().dimension(story.noisy_dimension).name

    console: list[str] = []
    page.on(
        "console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning", "trace") else None
    )
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Calibration").click()

    expect(page.get_by_role("heading", name="Calibration report")).to_be_visible()
    assert page.locator("#most-lenient").inner_text() == lenient_name
    assert page.locator("#least-reliable").inner_text() == noisy_name
    # The charts are drawn by plotly.js served from the app itself.
    expect(page.locator(".chart[data-figure=leniency] .main-svg").first).to_be_visible(timeout=30000)
    expect(page.locator(".chart[data-figure=reliability] .main-svg").first).to_be_visible(timeout=30000)
    expect(page.get_by_role("row", name=lenient_name).first).to_be_visible()
    # Every headline says how many candidates stand behind it.
    for headline in page.locator(".headline").all():
        expect(headline).to_contain_text("candidates")
    # The leniency chart lists interviewers in the table's order, by the same names.
    table_order = page.locator("#len-heading ~ table tbody th").all_inner_texts()
    chart_order = page.locator(".chart[data-figure=leniency] .ytick text").evaluate_all(
        "ticks => ticks.map(t => [t.getBoundingClientRect().top, t.textContent])"
        ".sort((a, b) => a[0] - b[0]).map(t => t[1])"
    )  # top to bottom as drawn
    assert [label.split(" (n =")[0] for label in chart_order] == table_order
    assert table_order[0] == lenient_name
    screenshot("calibration-report")
    assert console == [], console

    # One interviewer, their own ratings only: the filter says so and the comparisons collapse.
    page.get_by_label("Interviewer", exact=True).select_option(label=lenient_name)
    page.get_by_label("this interviewer's own ratings only").check()
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#report-scope")).to_contain_text("this interviewer's own ratings")
    expect(page.locator(".empty-section").first).to_contain_text("Not enough data yet")
    page.get_by_label("everyone on their panels", exact=False).check()
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#report-scope")).to_contain_text("everyone on their panels")
    expect(page.locator("#most-lenient")).to_have_text(lenient_name)
    page.get_by_role("link", name="Calibration", exact=True).click()

    # The tables for a spreadsheet: one CSV per table, in a zip.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV tables (zip)").click()
    tables = download_info.value
    assert tables.suggested_filename == "calibration-report.zip"
    with open(tables.path(), "rb") as fh:
        names = zipfile.ZipFile(io.BytesIO(fh.read())).namelist()
    assert {"leniency.csv", "alpha.csv", "headlines.csv"} <= set(names)

    # The whole report as a self-contained HTML file, for the calibration meeting.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="HTML", exact=True).click()
    exported = download_info.value
    assert exported.suggested_filename == "calibration-report.html"
    with open(exported.path(), encoding="utf-8") as fh:
        html = fh.read()
    assert lenient_name in html and "Plotly" in html

    page.get_by_role("link", name="Calibration session agenda").click()
    expect(page.get_by_role("heading", name="Calibration session agenda")).to_be_visible()
    expect(page.locator("ol.agenda li").first).to_contain_text("Observed:")
    screenshot("calibration-agenda")
    assert console == [], console
    first = page.locator("ol.agenda > li").first
    candidate = first.locator("h2").inner_text().split(" · ")[0]
    first.get_by_role("link", name=f"Debrief for {candidate}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(candidate.split(" (#")[0])
    page.go_back()
    notebook = page.locator("ol.agenda > li").first.get_by_role("link", name=f"Notebook for {candidate}")
    # The demo's past panels have submissions without stored notebooks, so only the link is checked here;
    # tests/test_calibration.py checks it names the candidate's newest submission.
    expect(notebook).to_have_attribute("href", re.compile(r"^/submissions/\d+$"))
