"""An HTML document printed to PDF by Debian's Chromium, in a child process a timeout can end.

The document is printed with JavaScript off and every request it would make refused (no network,
no files): what it shows must already be in it, inline. The browser runs in a child process with a
scratch directory of its own; when the child finishes, fails or overruns, every process whose
command line names that directory is killed and the directory removed, so no browser outlives a
request.

Run as `python -m assessments.pdf CHROMIUM` (the child): {"html", "footer"} as JSON on stdin, the PDF on stdout.
"""

from __future__ import annotations

import html as html_text
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from assessments.errors import DomainError

log = logging.getLogger(__name__)

# The same switches the browser tests use: no background traffic, no GPU on a server.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MAX_STDERR_CHARS = 2_000
# A browser takes a few hundred MB: each process prints one document at a time, the next waits
# (within its own time limit).
_printing = threading.Lock()


class PdfUnavailable(DomainError):
    """No PDF can be made here now (no Chromium, or it failed); the HTML version still works."""

    status_code = 503


class PdfTimedOut(PdfUnavailable):
    """Making the PDF took longer than its limit and was stopped."""


def chromium_available(executable: str) -> bool:
    """Whether the configured Chromium executable exists here."""
    return os.access(executable, os.X_OK)


def html_to_pdf(html: str, *, executable: str, timeout: float, footer: str = "") -> bytes:
    """The document as PDF (A4, backgrounds printed), each page's footer `footer` and "page N of M".

    :raises PdfUnavailable: when Chromium is missing here or fails.
    :raises PdfTimedOut: when printing (with any wait for another print) takes longer than `timeout` seconds.
    """
    if not chromium_available(executable):
        raise PdfUnavailable(
            f"PDFs are made with Chromium, which is not installed on this server ({executable}). "
            "The HTML version has the same content: print it from your browser."
        )
    started = time.monotonic()
    if not _printing.acquire(timeout=timeout):
        raise _timed_out(timeout)
    try:
        remaining = timeout - (time.monotonic() - started)
        pdf = _print_in_child(html, footer, executable, remaining) if remaining > 0 else None
    finally:
        _printing.release()
    if pdf is None:
        raise _timed_out(timeout)
    return pdf


def _timed_out(timeout: float) -> PdfTimedOut:
    return PdfTimedOut(
        f"The PDF took longer than {timeout:g} seconds to make and was stopped. "
        "The HTML version has the same content: print it from your browser."
    )


def _print_in_child(html: str, footer: str, executable: str, timeout: float) -> bytes | None:
    """The PDF, or None when the child overran `timeout`; the child and its browser end either way."""
    scratch = tempfile.mkdtemp(prefix="assessments-pdf-")
    # Playwright puts the browser's profile under TMPDIR: the scratch directory names every process.
    env = {**os.environ, "TMPDIR": scratch}
    child = subprocess.Popen(
        [sys.executable, "-m", "assessments.pdf", executable],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        pdf, errors = child.communicate(json.dumps({"html": html, "footer": footer}).encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    finally:
        _end_processes(child, scratch)
        shutil.rmtree(scratch, ignore_errors=True)
    if child.returncode != 0 or not pdf.startswith(b"%PDF"):
        log.warning(
            "pdf: chromium failed (exit %s): %s", child.returncode, errors.decode(errors="replace")[-MAX_STDERR_CHARS:]
        )
        raise PdfUnavailable("Chromium could not make the PDF. The HTML version has the same content.")
    return pdf


def _end_processes(child: subprocess.Popen[bytes], scratch: str) -> None:
    """Kill the child's process group and any browser process that names the scratch directory."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.communicate()
    # Chromium starts in a session of its own (Playwright detaches it), so the group kill misses it;
    # it also exits when its pipe to the killed driver closes, but nothing is left to chance.
    deadline = time.monotonic() + 5
    while True:
        pids = processes_naming(scratch)
        if not pids or time.monotonic() > deadline:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def processes_naming(text: str) -> list[int]:
    """Ids of the running processes whose command line contains `text` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            status = (entry / "stat").read_text()
        except OSError:
            continue
        # A zombie has exited already; its parent reaps it.
        if text.encode() in cmdline and ") Z " not in status:
            found.append(int(entry.name))
    return found


def _print(html: str, footer: str, executable: str) -> bytes:
    from playwright.sync_api import sync_playwright

    # As root Chromium refuses to start with its own sandbox; JavaScript is off and nothing loads,
    # so the document cannot act in the browser either way.
    args = [*CHROMIUM_ARGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        try:
            context = browser.new_context(java_script_enabled=False, offline=True)
            context.route("**/*", lambda route: route.abort())
            page = context.new_page()
            page.set_content(html, wait_until="load")
            page.emulate_media(media="print")
            return page.pdf(
                format="A4",
                print_background=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=(
                    '<div style="font-size:8px;width:100%;text-align:center;color:#555">'
                    f'{html_text.escape(footer)} · page <span class="pageNumber"></span> of <span class="totalPages"></span></div>'
                ),
                margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"},
            )
        finally:
            browser.close()


if __name__ == "__main__":
    job = json.loads(sys.stdin.read())
    sys.stdout.buffer.write(_print(job["html"], job["footer"], sys.argv[1]))
