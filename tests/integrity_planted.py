"""Planted submissions to the fixture case for the integrity tests (service, CLI, page, browser).

Seven candidates, each on their own invitation and seed, each submission graded as the grader
would have graded it (the report keeps the answer values the checks read):

- Alice solves the case with the author's solution code (public in the repository) and her own
  written answer;
- Bob uploads Alice's notebook byte for byte (so his answers are his own key: the code recomputes);
- Carol uploads Alice's notebook lightly edited: names renamed, comments added, cells re-spaced;
- Dave solves it independently, in code of his own, with his own written answer;
- Erin types Dave's key values into her answer cells: a borrowed key (Frank's or Gina's instead in
  the rare run where Dave's key shares a number with Erin's own: the seed key is new in every test);
- Frank and Gina upload the starter notebook untouched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import nbformat
from flask import Flask
from sqlalchemy import select

from assessments.content.notebook import release_notebook, solution_notebook
from assessments.extensions import db
from assessments.grading.checks import score_check
from assessments.grading.report import GRADER_VERSION, GradeReport, Timings
from assessments.models import GradeRun, GradeStatus, Invitation, Role
from assessments.models.types import utcnow
from assessments.services import accounts, catalog, grading, invitations
from tests.conftest import PASSWORD

ALICE_WRITTEN = (
    "Ship it only if the lift's interval excludes zero; with a few hundred users per arm it barely does, "
    "so I would run a week longer first."
)

DAVE_CODE = {
    "treatment_rate": (
        'treated = events[events["arm"] == "treatment"]\n'
        'untreated = events[events["arm"] == "control"]\n'
        'treatment_rate = treated["converted"].sum() / len(treated)'
    ),
    "better_arm": (
        'control_rate = untreated["converted"].sum() / len(untreated)\n'
        'better_arm = "treatment" if treatment_rate > control_rate else "control"'
    ),
    "best_channel": (
        "rates = {}\n"
        'for name, group in events.groupby("channel"):\n'
        '    rates[name] = group["converted"].sum() / len(group)\n'
        "best_channel = max(rates, key=rates.get)"
    ),
    "arm_rates": 'arm_rates = {"control": control_rate, "treatment": treatment_rate}',
}
DAVE_WRITTEN = "The treatment looks better, but I'd want the confidence interval of the difference before shipping."


@dataclass(frozen=True)
class Planted:
    """Invitation ids by first name."""

    invitations: dict[str, int]
    borrowed_from: str  # whose key Erin typed


def _with_answers(notebook: Any, code: dict[str, str], written: str | None) -> Any:
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        role = cell.metadata.get("assess", {})
        if role.get("answer") in code:
            cell.source = code[role["answer"]]
        elif role.get("response") and written is not None:
            cell.source = written
    return notebook


def _lightly_edited(notebook: Any) -> Any:
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            source = cell.source.replace("arm_stats", "by_arm").replace("channel_rates", "per_channel")
            cell.source = "# my analysis\n" + source.replace(" = ", " =  ") + "  # checked\n"
    return notebook


def _graded(invitation: Invitation, notebook: Any, answers: dict[str, Any]) -> None:
    submission = grading.accept_submission(invitation, "answers.ipynb", nbformat.writes(notebook).encode())
    run = db.session.scalar(select(GradeRun).where(GradeRun.submission_id == submission.id))
    report = GradeReport(
        grader_version=GRADER_VERSION,
        case_slug=invitation.case.slug,
        case_version=invitation.case.content_hash,
        seed=invitations.data_seed(invitation),
        earned=0.0,
        possible=5.0,
        checks=(),
        cells=(),
        timings=Timings(),
        answers=answers,
    )
    run.status = GradeStatus.DONE
    run.results = report.to_dict()
    run.finished_at = utcnow()
    db.session.commit()


def plant(app: Flask, *, alice_written: str = ALICE_WRITTEN) -> Planted:
    """Seven graded submissions to tiny-hiring, as the module docstring describes; returns invitation ids."""
    # Grading is not what these tests are about: runs are queued, then given the report a grader would write.
    queue = app.extensions["assessments.queue"]
    app.extensions["assessments.queue"] = type(queue)(huey=queue.huey, grade=lambda run_id: None)
    with app.app_context():
        admin = accounts.find_user_by_email("owner@example.com") or accounts.create_user(
            "owner@example.com", "Owner", Role.ADMIN, PASSWORD
        )
        case = catalog.find_current_case("tiny-hiring")
        spec = catalog.spec_for(case)
        people = {}
        for seed, name in enumerate(("Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Gina"), start=101):
            invitation, _ = invitations.invite_candidate(
                f"{name} Candidate",
                f"{name.lower()}@example.org",
                case,
                due_at=utcnow() + timedelta(days=3),
                panel=[],
                actor=admin,
                panel_later=True,
                seed=seed,
            )
            people[name] = invitation

        def key(name: str) -> dict[str, Any]:
            return dict(catalog.seed_materials(spec, invitations.data_seed(people[name])).key)

        solved = _with_answers(solution_notebook(spec), {}, alice_written)
        starter = release_notebook(spec)
        _graded(people["Alice"], solved, key("Alice"))
        _graded(people["Bob"], solved, key("Bob"))
        _graded(people["Carol"], _lightly_edited(solved), key("Carol"))
        _graded(people["Dave"], _with_answers(starter, DAVE_CODE, DAVE_WRITTEN), key("Dave"))
        spec_parts = {p.id: p.check for p in spec.checkable_parts if p.check is not None}

        def differs(a: dict[str, Any], b: dict[str, Any]) -> bool:
            return all(
                score_check(spec_parts[part].kind, spec_parts[part].params, a[part], b[part], 1.0).status != "correct"
                for part in ("treatment_rate", "arm_rates")
            )

        source = next(name for name in ("Dave", "Frank", "Gina") if differs(key(name), key("Erin")))
        borrowed = key(source)
        typed = {part: f"{part} = {value!r}" for part, value in borrowed.items()}
        _graded(people["Erin"], _with_answers(starter, typed, "Treatment wins."), borrowed)
        _graded(people["Frank"], starter, {})
        _graded(people["Gina"], starter, {})
        return Planted({name: invitation.id for name, invitation in people.items()}, source)
