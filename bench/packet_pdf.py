"""Benchmark: how long the hiring packet's PDF takes, against printing an empty page in the same run.

Run: .venv/bin/python bench/packet_pdf.py [--repeat 3]

Each document goes through `assessments.pdf.html_to_pdf` as the packet view calls it (a child
process, Debian's Chromium, JavaScript off, nothing fetched), so every figure includes starting the
browser. The documents: an empty page (the baseline: the least any PDF costs), the packet as the
view prints it for a four-person panel and a case's solution notebook, and the same packet with a
notebook of 300 cells with long outputs. Figures are medians, also as multiples of the baseline.
Not a test: it never fails on speed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime

import nbformat
from flask import render_template

from assessments import create_app, pdf
from assessments.content.notebook import solution_notebook
from assessments.grading.report import CheckResult, GradeReport, Timings
from assessments.services import catalog
from assessments.services.packets import (
    HiringPacket,
    PacketDecision,
    PacketNotebook,
    PacketRating,
    PacketScorecard,
)
from assessments.views.notebook_html import render_notebook
from assessments.views.packets import _print_css

CHROMIUM = "/usr/bin/chromium"


def _packet(notebook: dict) -> HiringPacket:
    now = datetime.now(UTC)
    card = PacketScorecard(
        interviewer="Interviewer",
        submitted_at=now,
        amendment_reason=None,
        recommendation="Yes",
        ratings=tuple(PacketRating(f"Dimension {i}", 3, "Yes", "Evidence sentence. " * 15) for i in range(5)),
        red_flags=(),
        takeaways="Take-aways. " * 10,
    )
    checks = tuple(CheckResult(f"part_{i}", 1.0, 1.0, "pass", "") for i in range(12))
    return HiringPacket(
        invitation_id=1,
        candidate="Casey Candidate",
        case_title="A case",
        auto_grade=GradeReport("b", "case", "v", 1, 12.0, 12.0, checks, (), Timings()),
        scorecards=(card,) * 4,
        recommendations={"Yes": 4},
        pending=(),
        decision=PacketDecision("advance", "Admin", now, "A note."),
        notebook=PacketNotebook(1, now, False, notebook),
        prepared_for="Reader",
        prepared_at=now,
    )


def _big_notebook() -> dict:
    cells = []
    for i in range(300):
        cell = nbformat.v4.new_code_cell(f"print('row', {i})\n" * 5)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="output line\n" * 40)]
        cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells)


def _median(html: str, repeat: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        size = len(pdf.html_to_pdf(html, executable=CHROMIUM, timeout=120))
        times.append(time.perf_counter() - started)
    return statistics.median(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["ASSESS_INSTANCE_PATH"] = scratch  # the app's instance files stay out of the checkout
        app = create_app(
            {"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{scratch}/b.db"}
        )
        with app.app_context():
            case = next(iter(catalog.case_specs().values()))
            documents = {"empty page (baseline)": "<!doctype html><p>.</p>"}
            for label, notebook in (
                (f"packet, {case.slug} solution", solution_notebook(case)),
                ("packet, 300-cell notebook", _big_notebook()),
            ):
                packet = _packet(notebook)
                documents[label] = render_template(
                    "panels/packet_print.html",
                    p=packet,
                    notebook_html=render_notebook(packet.notebook.content),
                    css=_print_css(str(app.static_folder)),
                )
    pdf.html_to_pdf(documents["empty page (baseline)"], executable=CHROMIUM, timeout=120)  # warm the disk cache
    baseline = None
    print(f"{'document':34} {'html KB':>8} {'pdf KB':>8} {'median s':>9} {'x baseline':>11}")
    for label, html in documents.items():
        seconds, size = _median(html, args.repeat)
        baseline = baseline or seconds
        print(f"{label:34} {len(html) / 1024:8.0f} {size / 1024:8.0f} {seconds:9.2f} {seconds / baseline:11.2f}")


if __name__ == "__main__":
    main()
