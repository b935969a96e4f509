"""Benchmark: the calibration page of `make run`'s demo, on the server and in a fresh browser.

Run: .venv/bin/python bench/calibration_page.py [--repeat 3] [--screenshot PATH]

Seeds the demo into a scratch instance, serves the app on a loopback port and measures, in this
one run:

- the server: `/calibration/` rendered through the test client, the first view after the data
  changed (the report is computed) against the next views (the report read from the cache), and
  the dashboard of the same app (`/`) as the baseline every figure is divided by;
- the transfer: bytes of each script and stylesheet the page loads, asked for without and with
  `Accept-Encoding: gzip`;
- a fresh browser (Debian's Chromium, a new context each time so nothing is cached): the time to
  the load event, the bytes transferred, and any console errors.

With `--screenshot PATH` it saves the page at 1280x800 after the charts are drawn.
Not a test: it never fails on speed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assessments import create_app  # noqa: E402
from assessments.extensions import db  # noqa: E402
from assessments.services import calibration, catalog, demo  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ASSET = re.compile(r'(?:src|href)="(/[^"?]+\.(?:js|css)(?:\?[^"]*)?)"')


def _app(scratch: Path):
    os.environ["ASSESS_INSTANCE_PATH"] = str(scratch / "instance")
    app = create_app(
        {
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "HUEY_IMMEDIATE": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{scratch / 'bench.db'}",
            "SUBMISSIONS_DIR": str(scratch / "submissions"),
            "ARGON2_PARAMETERS": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
        }
    )
    with app.app_context():
        db.create_all()
        catalog.sync_cases()
        demo.seed_demo()
    return app


def _timed(client, path: str, **headers) -> tuple[float, bytes]:
    start = time.perf_counter()
    response = client.get(path, headers=headers, follow_redirects=True)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, (path, response.status_code)
    return elapsed, response.get_data()


def _forget_reports(app) -> None:
    """Empty the calibration report cache, as a new scorecard's data version would, so the next view computes."""
    with app.app_context():
        calibration.forget_reports()


def server_figures(app, repeat: int) -> None:
    client = app.test_client()
    client.post("/login", data={"email": "admin@example.com", "password": demo.DEMO_PASSWORD})
    baseline = statistics.median(_timed(client, "/")[0] for _ in range(repeat))
    cold, warm = [], []
    for _ in range(repeat):
        _forget_reports(app)
        cold.append(_timed(client, "/calibration/")[0])
        warm.append(_timed(client, "/calibration/")[0])
    print(f"server (median of {repeat}; baseline / = {baseline * 1000:.0f} ms)")
    for label, values in (("first view after a change", cold), ("next view", warm)):
        value = statistics.median(values)
        print(f"  /calibration/ {label:<26} {value * 1000:8.0f} ms  {value / baseline:7.1f}x baseline")
    _, page = _timed(client, "/calibration/")
    plain_total = gzip_total = 0
    print("transfer of the page's scripts and stylesheets (bytes: identity / gzip; cache-control)")
    for path in sorted(set(ASSET.findall(page.decode()))):
        plain = client.get(path)
        packed = client.get(path, headers={"Accept-Encoding": "gzip"})
        plain_total += len(plain.get_data())
        gzip_total += len(packed.get_data())
        print(
            f"  {path:<60} {len(plain.get_data()):>9} / {len(packed.get_data()):>9}"
            f"  {packed.headers.get('Content-Encoding', '-'):<5} {packed.headers.get('Cache-Control', '-')}"
        )
    print(f"  total {plain_total:>64} / {gzip_total:>9}")


def browser_figures(base: str, repeat: int, screenshot: Path | None) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        login = browser.new_context()
        page = login.new_page()
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill("admin@example.com")
        page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        state = login.storage_state()
        login.close()
        loads, transfers = [], []
        for number in range(repeat):
            context = browser.new_context(storage_state=state, viewport={"width": 1280, "height": 800})
            page = context.new_page()
            errors: list[str] = []
            page.on(
                "console",
                lambda m, errors=errors: errors.append(m.text) if m.type in ("error", "warning", "trace") else None,
            )
            start = time.perf_counter()
            page.goto(f"{base}/calibration/", wait_until="load")
            loads.append(time.perf_counter() - start)
            transfers.append(
                page.evaluate(
                    "() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
                    ".reduce((s, e) => s + e.transferSize, 0)"
                )
            )
            page.wait_for_timeout(500)
            if number == 0 and screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot))
            if errors:
                print(f"  console errors, warnings and traces: {sorted(set(errors))}")
            context.close()
        browser.close()
    print(f"fresh browser (median of {repeat})")
    print(
        f"  load event {statistics.median(loads) * 1000:8.0f} ms   transferred {statistics.median(transfers):>10.0f} bytes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        app = _app(Path(scratch))
        server_figures(app, args.repeat)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            browser_figures(f"http://127.0.0.1:{server.server_port}", args.repeat, args.screenshot)
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
