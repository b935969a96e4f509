"""Browser tests: a live server, screenshots, and axe-core on every page a journey visits."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Keyboard, Locator, Page
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import make_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served in a thread; yields its base URL."""
    app.config["SERVER_NAME"] = None
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def screenshot(page) -> object:
    """Saves a named screenshot of the current page under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


PHONE = {"width": 375, "height": 812}


@pytest.fixture
def phone() -> Callable[[Page, str], Path]:
    """Shows the page at a phone's 375 px, asserts nothing spills sideways, and saves a screenshot."""

    def check(page: Page, name: str) -> Path:
        desktop = page.viewport_size
        page.set_viewport_size(PHONE)
        try:
            page.wait_for_function("() => window.innerWidth === 375")
            page.wait_for_timeout(150)  # plotly's responsive charts redraw on resize
            width = page.evaluate("document.scrollingElement.scrollWidth")
            ARTIFACTS.mkdir(exist_ok=True)
            path = ARTIFACTS / f"phone-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            wide = page.evaluate(
                """() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > 376 && !e.closest('table, pre, .table-scroll'))
                    .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.getAttribute('class') ? '.' + e.getAttribute('class') : ''))"""
            )
            assert width <= PHONE["width"] + 1, f"{page.url} is {width}px wide at 375 px; too wide: {wide} ({path})"
        finally:
            if desktop:
                page.set_viewport_size(desktop)
        return path

    return check


# axe-core's rule tags for WCAG 2.0 and 2.1, levels A and AA.
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
# The page actions that can leave a document: before each, the document is audited if it was not yet.
LEAVING_ACTIONS = [
    (Page, ("goto", "reload", "go_back", "go_forward", "click", "dblclick", "press", "close")),
    (Locator, ("click", "dblclick", "press", "select_option")),
    (Keyboard, ("press",)),
]


FLAGGED_STATE = """() => document.title + (document.querySelector(
    '[aria-invalid=true], #error-summary, .errors, .flash, [role=alert]') ? ' (with messages)' : '')"""


class AccessibilityAudit:
    """Runs axe-core once on each page state a journey reaches and keeps what it found.

    Before any action that can leave a document (a navigation, a click, a key press), and before its
    browser context closes, each page of the test's contexts is audited unless the same page in the
    same state already was; a page state reached by script without navigating is audited by calling
    the audit with a state name.
    """

    def __init__(self, journey: str) -> None:
        self.journey = journey
        self.runs: list[dict] = []
        self.contexts: list[BrowserContext] = []
        self._seen: set[tuple[str, str]] = set()
        self._axe = Axe()
        self._busy = False

    def __call__(self, page: Page, state: str = "") -> None:
        """Runs axe on the page as it is now, once per URL and state."""
        if self._busy or page.is_closed() or not page.url.startswith("http"):
            return
        self._busy = True  # axe's own evaluate calls are not actions to audit before
        try:
            page.wait_for_load_state()
            # Once per URL, title and whether it shows errors or a message: the same page seen again
            # after a change elsewhere is the same template, a form sent back with errors is not.
            key = (page.url, state or page.evaluate(FLAGGED_STATE))
            if key in self._seen:
                return
            self._seen.add(key)
            started = time.perf_counter()
            results = self._axe.run(
                page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}
            )
        except PlaywrightError:
            return  # not an HTML document (a download, a PDF), or it went away under axe
        finally:
            self._busy = False
        self.runs.append(
            {
                "url": page.url.split("?")[0],
                "state": state,
                "seconds": round(time.perf_counter() - started, 3),
                "violations": [
                    {
                        "rule": violation["id"],
                        "impact": violation["impact"],
                        "help": violation["help"],
                        "help_url": violation["helpUrl"],
                        "targets": [", ".join(map(str, node["target"])) for node in violation["nodes"]],
                    }
                    for violation in results.response["violations"]
                ],
            }
        )

    def audit_open_pages(self) -> None:
        """Audits every open page of the test's browser contexts."""
        for context in self.contexts:
            for page in context.pages:
                self(page)

    def watch(self, context: BrowserContext) -> None:
        """Audits the context's pages before it closes."""
        self.contexts.append(context)
        close = context.close

        def audit_then_close(*args: object, **kwargs: object) -> None:
            for page in context.pages:
                self(page)
            close(*args, **kwargs)

        context.close = audit_then_close  # type: ignore[method-assign]

    def blocking(self) -> list[str]:
        """The serious and critical violations, one readable line per rule and page."""
        return [
            f"{run['url']}{' [' + run['state'] + ']' if run['state'] else ''}: {v['rule']} ({v['impact']}) "
            f"{v['help']} at {'; '.join(v['targets'][:5])} - {v['help_url']}"
            for run in self.runs
            for v in run["violations"]
            if v["impact"] in BLOCKING_IMPACTS
        ]

    def save(self) -> Path:
        """Writes the run's summary as JSON under test-artifacts/."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"axe-{self.journey}.json"
        summary = {
            "journey": self.journey,
            "tags": WCAG_21_AA,
            "pages": len(self.runs),
            "seconds": round(sum(run["seconds"] for run in self.runs), 3),
            "blocking": len(self.blocking()),
            "runs": self.runs,
        }
        path.write_text(json.dumps(summary, indent=2))
        return path


@pytest.fixture(autouse=True)
def accessibility(
    request: pytest.FixtureRequest, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AccessibilityAudit]:
    """axe-core on every page state of the journey (WCAG 2.1 AA); serious or critical violations fail it."""
    audit = AccessibilityAudit(re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name))
    new_context = browser.new_context

    def watched_context(*args: object, **kwargs: object) -> BrowserContext:
        context = new_context(*args, **kwargs)
        audit.watch(context)
        return context

    monkeypatch.setattr(browser, "new_context", watched_context)
    for cls, names in LEAVING_ACTIONS:
        for name in names:
            monkeypatch.setattr(cls, name, _audited(getattr(cls, name), audit, cls))
    yield audit
    audit.audit_open_pages()
    monkeypatch.undo()
    path = audit.save()
    problems = audit.blocking()
    if problems:
        pytest.fail(
            f"{len(problems)} serious or critical accessibility violations (summary: {path}):\n" + "\n".join(problems)
        )


def _audited(action: Callable, audit: AccessibilityAudit, cls: type) -> Callable:
    """The action, preceded by an audit of the page it may leave (every open page for a key press)."""

    def run(target: object, *args: object, **kwargs: object) -> object:
        if cls is Page:
            audit(target)
        elif cls is Locator:
            audit(target.page)
        else:
            audit.audit_open_pages()
        return action(target, *args, **kwargs)

    return run
