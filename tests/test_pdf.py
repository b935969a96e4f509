"""Printing HTML to PDF in Debian's Chromium: the document as printed, and no browser left behind."""

from __future__ import annotations

import io
import tempfile
import threading
import time
import unicodedata

import pytest
from pypdf import PdfReader

from assessments import pdf

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"


def _text(data: bytes) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _watch_scratch(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The scratch directories html_to_pdf makes, as it makes them."""
    made: list[str] = []
    real = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(pdf.tempfile, "mkdtemp", mkdtemp)
    return made


def test_a_document_prints_without_running_its_script_and_leaves_nothing(monkeypatch):
    made = _watch_scratch(monkeypatch)
    html = "<!doctype html><h1>Packet heading</h1><p id=x>static text</p><script>document.write('SCRIPT-RAN')</script>"
    data = pdf.html_to_pdf(html, executable=CHROMIUM, timeout=60, footer="Packet <b>footer</b>")
    assert data.startswith(b"%PDF")
    text = _text(data)
    assert "Packet heading" in text and "static text" in text
    assert "Packet <b>footer</b> · page 1 of 1" in text  # the footer is text, never markup
    assert "SCRIPT-RAN" not in text
    assert pdf.processes_naming(made[0]) == []


def test_a_print_over_its_time_limit_is_stopped_with_its_browser(monkeypatch):
    made = _watch_scratch(monkeypatch)
    # A hundred thousand table rows: far more than eight seconds to lay out and print, and long
    # enough after the browser starts that the test sees it running.
    rows = "".join(f"<tr><td>{i}</td><td>{'cell ' * 20}</td></tr>" for i in range(100_000))
    html = f"<!doctype html><table>{rows}</table>"
    seen: set[int] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if made:
                seen.update(pdf.processes_naming(made[0]))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    try:
        with pytest.raises(pdf.PdfTimedOut, match="longer than 8 seconds"):
            pdf.html_to_pdf(html, executable=CHROMIUM, timeout=8)
    finally:
        done.set()
        watcher.join()
    assert time.monotonic() - started < 20
    assert seen, "the browser had started before the limit, so the test stops a running browser"
    assert pdf.processes_naming(made[0]) == []
    assert all(not _alive(pid) for pid in seen)


def test_waiting_for_another_print_counts_against_the_time_limit(monkeypatch):
    made = _watch_scratch(monkeypatch)
    with pdf._printing:
        started = time.monotonic()
        with pytest.raises(pdf.PdfTimedOut, match="longer than 0.5 seconds"):
            pdf.html_to_pdf("<p>x</p>", executable=CHROMIUM, timeout=0.5)
    assert time.monotonic() - started < 2
    assert made == []  # no browser was started for it


def test_without_chromium_the_error_says_what_is_missing():
    with pytest.raises(pdf.PdfUnavailable, match="not installed on this server"):
        pdf.html_to_pdf("<p>x</p>", executable="/nonexistent/chromium", timeout=5)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return ") Z " not in stat.read()
    except FileNotFoundError:
        return False
