"""Scorecards: drafts, locking, amendments, independence on every route, the debrief, exports."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from assessments.errors import AccessDenied, InvalidInput
from assessments.extensions import db
from assessments.models import Invitation, Scorecard, User
from assessments.scorecard import ScorecardResult
from assessments.services import scorecard_drafts, scorecards

SECRET_EVIDENCE = "Candidate-said-the-secret-phrase about SRM"
DRAFT_NOTE = "Half-written note only in a draft"


def _result(rubric, levels: dict[str, int | None], *, final: bool = True, flags=(), rec="yes") -> ScorecardResult:
    return ScorecardResult(
        rubric_slug=rubric.slug,
        rubric_hash=rubric.content_hash,
        ratings=levels,
        evidence={d: f"{SECRET_EVIDENCE} on {d}" for d, v in levels.items() if v is not None},
        red_flags=tuple(flags),
        takeaways="Strong on statistics.",
        recommendation=rec if final else None,
        is_final=final,
    )


@pytest.fixture
def panel(app, make_user, make_invitation):
    members = [make_user("interviewer", email=f"p{i}@example.com", name=f"Panelist {i}") for i in range(3)]
    invitation_id, _ = make_invitation(panel=members)
    return invitation_id, members


def _submit(app, invitation_id, user, levels, **kwargs):
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        rubric = scorecards.rubric_for()
        return scorecards.save_scorecard(
            invitation, db.session.get(User, user.id), _result(rubric, levels, **kwargs)
        ).id


def test_draft_then_submit_locks_and_amendment_keeps_the_original(app, panel):
    invitation_id, (alice, *_) = panel
    _submit(app, invitation_id, alice, {"evaluation-rigor": 2}, final=False)
    first = _submit(app, invitation_id, alice, {"evaluation-rigor": 3, "communication": None})
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        user = db.session.get(User, alice.id)
        rubric = scorecards.rubric_for()
        assert db.session.query(Scorecard).count() == 1  # the draft became the submission
        with pytest.raises(scorecards.ScorecardLocked, match="amend"):
            scorecards.save_scorecard(invitation, user, _result(rubric, {"evaluation-rigor": 4}))
        with pytest.raises(InvalidInput, match="why"):
            scorecards.amend_scorecard(invitation, user, _result(rubric, {"evaluation-rigor": 4}), "  ")
        amended = scorecards.amend_scorecard(
            invitation, user, _result(rubric, {"evaluation-rigor": 4}), "Re-read the notebook"
        )
        original = db.session.get(Scorecard, first)
        assert amended.amends_id == original.id
        assert [r.level for r in original.ratings if r.dimension_id == "evaluation-rigor"] == [3]
        assert scorecards.own_scorecard(invitation, user).id == amended.id
        shown = scorecards.submitted_scorecards(invitation, user)
        assert [s.id for s in shown] == [amended.id]


def test_only_panel_members_write_scorecards(app, panel, make_user):
    invitation_id, _ = panel
    outsider = make_user("interviewer", email="out@example.com")
    with pytest.raises(AccessDenied):
        _submit(app, invitation_id, outsider, {"evaluation-rigor": 3})


def _get_routes_for_invitation(app):
    """Every GET route that takes an invitation id: all of them could show panel data."""
    return sorted(
        rule.rule for rule in app.url_map.iter_rules() if "invitation_id" in rule.arguments and "GET" in rule.methods
    )


def test_independence_on_every_route(app, client, auth, panel):
    invitation_id, (alice, bob, carol) = panel
    _submit(app, invitation_id, alice, {"evaluation-rigor": 4, "communication": 3}, flags=["claims-without-evidence"])
    _submit(app, invitation_id, carol, {"evaluation-rigor": 1}, final=False)
    routes = _get_routes_for_invitation(app)
    assert "/panels/<int:invitation_id>/debrief" in routes
    assert "/panels/<int:invitation_id>/scorecards.json" in routes
    auth.login(bob.email)
    for rule in routes:
        url = rule.replace("<int:invitation_id>", str(invitation_id))
        response = client.get(url)
        body = response.get_data(as_text=True)
        assert SECRET_EVIDENCE not in body, f"{url} leaks another interviewer's evidence"
        assert "Panelist 0" not in body or url.endswith("/scorecard"), url
        assert response.status_code in (200, 302, 403), url
    assert client.get(f"/panels/{invitation_id}/debrief").status_code == 403
    assert client.get(f"/panels/{invitation_id}/scorecards.csv").status_code == 403
    # After submitting their own, Bob sees Alice's submitted card, never Carol's draft.
    _submit(app, invitation_id, bob, {"evaluation-rigor": 2})
    page = client.get(f"/panels/{invitation_id}/debrief").get_data(as_text=True)
    assert SECRET_EVIDENCE in page
    assert "Panelist 0" in page
    assert "Still to submit: Panelist 2" in page
    rows = client.get(f"/panels/{invitation_id}/scorecards.json").get_json()
    assert {r["interviewer"] for r in rows} == {"p0@example.com", "p1@example.com"}


def test_admin_sees_all_and_is_told_so(app, client, auth, panel, make_user):
    invitation_id, (alice, *_) = panel
    _submit(app, invitation_id, alice, {"evaluation-rigor": 4})
    admin = make_user("admin", email="boss@example.com")
    auth.login(admin.email)
    page = client.get(f"/panels/{invitation_id}/debrief").get_data(as_text=True)
    assert SECRET_EVIDENCE in page
    assert "as an admin" in page


def test_debrief_highlights_disagreements_of_two_levels(app, client, auth, panel):
    invitation_id, (alice, bob, carol) = panel
    _submit(app, invitation_id, alice, {"evaluation-rigor": 1, "communication": 3})
    _submit(app, invitation_id, bob, {"evaluation-rigor": 3, "communication": 4})
    _submit(app, invitation_id, carol, {"evaluation-rigor": 3, "communication": None}, rec="no")
    with app.app_context():
        summary = scorecards.debrief(db.session.get(Invitation, invitation_id), db.session.get(User, alice.id))
        dims = {d.dimension_id: d for d in summary.dimensions}
        assert dims["evaluation-rigor"].disagreement and dims["evaluation-rigor"].spread == 2
        assert dims["evaluation-rigor"].mean == pytest.approx(7 / 3, abs=0.01)
        assert not dims["communication"].disagreement  # 3 vs 4; "not assessed" is not a level
        assert summary.recommendations == {"strong_no": 0, "no": 1, "yes": 2, "strong_yes": 0, "no_decision": 0}
    auth.login(alice.email)
    page = client.get(f"/panels/{invitation_id}/debrief").get_data(as_text=True)
    assert page.count('class="disagreement"') == 1
    assert "disagree by 2" in page


def test_exports_round_trip(app, client, auth, panel):
    invitation_id, (alice, bob, _) = panel
    _submit(app, invitation_id, alice, {"evaluation-rigor": 4, "communication": None})
    _submit(app, invitation_id, bob, {"evaluation-rigor": 2, "communication": 3}, rec="no")
    auth.login(alice.email)
    as_json = client.get(f"/panels/{invitation_id}/scorecards.json").get_json()
    response = client.get(f"/panels/{invitation_id}/scorecards.csv")
    assert response.mimetype == "text/csv"
    as_csv = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(as_json) == len(as_csv) == 4
    for j, c in zip(as_json, as_csv, strict=True):
        assert c["rating"] == ("" if j["rating"] is None else str(j["rating"]))
        assert {k: v for k, v in c.items() if k != "rating"} == {
            k: ("" if v is None else str(v)) for k, v in j.items() if k != "rating"
        }
    assert list(as_csv[0]) == list(scorecards.EXPORT_COLUMNS)
    assert set(as_json[0]) == set(scorecards.EXPORT_COLUMNS)
    assert json.loads(json.dumps(as_json)) == as_json


def test_exports_carry_evidence_takeaways_and_red_flags(app, client, auth, panel):
    invitation_id, (alice, bob, _) = panel
    _submit(app, invitation_id, alice, {"evaluation-rigor": 4}, flags=["claims-without-evidence"])
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        rubric = scorecards.rubric_for()
        formula = ScorecardResult(
            rubric.slug,
            rubric.content_hash,
            {"evaluation-rigor": 2},
            {"evaluation-rigor": '=HYPERLINK("http://evil") said the candidate'},
            (),
            "-Weak on guardrails.",
            "no",
            True,
        )
        scorecards.save_scorecard(invitation, db.session.get(User, bob.id), formula)
        flag_label = {f.id: f.label for f in rubric.red_flags}["claims-without-evidence"]
    auth.login(alice.email)
    rows = {r["interviewer"]: r for r in client.get(f"/panels/{invitation_id}/scorecards.json").get_json()}
    alice_row = rows["p0@example.com"]
    assert alice_row["evidence"] == f"{SECRET_EVIDENCE} on evaluation-rigor"
    assert alice_row["takeaways"] == "Strong on statistics."
    assert alice_row["red_flags"] == flag_label
    assert alice_row["dimension_name"] != "evaluation-rigor" and alice_row["dimension_name"]
    assert rows["p1@example.com"]["red_flags"] == ""
    as_csv = list(
        csv.DictReader(io.StringIO(client.get(f"/panels/{invitation_id}/scorecards.csv").get_data(as_text=True)))
    )
    bob_row = next(r for r in as_csv if r["interviewer"] == "p1@example.com")
    # A spreadsheet would run these as formulas; the CSV keeps them as text.
    assert bob_row["evidence"] == '\'=HYPERLINK("http://evil") said the candidate'
    assert bob_row["takeaways"] == "'-Weak on guardrails."
    assert next(r for r in as_csv if r["interviewer"] == "p0@example.com")["red_flags"] == flag_label


def test_scorecard_page_submits_through_the_form(app, client, auth, panel):
    invitation_id, (alice, *_) = panel
    auth.login(alice.email)
    page = client.get(f"/panels/{invitation_id}/scorecard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    with app.app_context():
        focus = scorecards.kit_for(db.session.get(Invitation, invitation_id)).focus_dimension_ids
    data = {"recommendation": "yes", "submit": "Submit scorecard"}
    for dim in focus:
        key = dim.replace("-", "_")
        assert f'name="rating_{key}"' in html
        data[f"rating_{key}"] = "3"
        data[f"evidence_{key}"] = "Explained the SRM check and its p-value clearly."
    missing = dict(data)
    missing.pop(f"evidence_{focus[0].replace('-', '_')}")
    assert client.post(f"/panels/{invitation_id}/scorecard", data=missing).status_code == 400
    response = client.post(f"/panels/{invitation_id}/scorecard", data=data)
    assert response.status_code == 302 and response.headers["Location"].endswith("/debrief")
    # Submitted: the form is locked and sends you to the debrief.
    assert client.get(f"/panels/{invitation_id}/scorecard").status_code == 302


ANALYST_RUBRIC = (
    """
slug = "analyst"
title = "Analyst"

[[levels]]
value = 1
label = "Below"
meaning = "Below the bar."
[[levels]]
value = 2
label = "At"
meaning = "At the bar."
[[levels]]
value = 3
label = "Above"
meaning = "Above the bar."

[recommendations]
strong_no = "g1"
no = "g2"
yes = "g3"
strong_yes = "g4"
no_decision = "g5"
"""
    + "".join(
        f"""
[[dimensions]]
id = "{dim}"
name = "{name}"
definition = "d"
question = "q"
[dimensions.anchors]
1 = ["{name}: below."]
2 = ["{name}: at."]
3 = ["{name}: above."]
"""
        for dim, name in (
            ("evaluation-rigor", "Analysis rigor"),
            ("communication", "Plain speaking"),
            ("sql", "SQL fluency"),
        )
    )
    + """
[[red_flags]]
id = "guesses"
label = "Guesses instead of checking"
"""
)

ANALYST_KIT = """
slug = "tiny-hiring"
rubric = "analyst"
title = "Tiny hiring, analyst interview"
summary = "s"
focus = ["sql", "evaluation-rigor"]

[[questions]]
id = "q1"
dimensions = ["sql", "evaluation-rigor"]
ask = "How did you get the conversion rates?"
follow_ups = []
good = ["Shows the query."]
weak = ["Cannot say."]
"""


@pytest.fixture
def analyst_rubrics(app, tmp_path):
    """The shipped rubric and general kit, plus an analyst rubric (three levels, its own
    dimensions) that the fixture case's kit names."""
    root = tmp_path / "rubrics"
    (root / "kits").mkdir(parents=True)
    shutil.copy(Path(app.config["RUBRICS_DIR"]) / "lead-ml-scientist.toml", root)
    shutil.copy(Path(app.config["RUBRICS_DIR"]) / "kits" / "general.toml", root / "kits")
    (root / "analyst.toml").write_text(ANALYST_RUBRIC, encoding="utf-8")
    (root / "kits" / "tiny-hiring.toml").write_text(ANALYST_KIT, encoding="utf-8")
    app.config["RUBRICS_DIR"] = str(root)
    return root


def test_the_kit_names_the_rubric_and_that_rubric_drives_the_scorecard(app, client, auth, panel, analyst_rubrics):
    invitation_id, (alice, *_) = panel
    auth.login(alice.email)
    html = client.get(f"/panels/{invitation_id}/scorecard").get_data(as_text=True)
    # The kit's rubric: its dimensions, its three levels; not the lead rubric the general kit names.
    assert "SQL fluency" in html and "Analysis rigor" in html
    assert "3 · Above" in html and "4 · " not in html
    assert "Plain speaking" not in html  # in the rubric, not in the kit's focus
    data = {
        "rating_sql": "4",
        "evidence_sql": "Wrote the join and explained each filter.",
        "rating_evaluation_rigor": "3",
        "evidence_evaluation_rigor": "Checked the arms were balanced before comparing.",
        "recommendation": "yes",
        "submit": "Submit scorecard",
    }
    refused = client.post(f"/panels/{invitation_id}/scorecard", data=data)
    assert refused.status_code == 400
    assert "Choose a level from 1 to 3" in refused.get_data(as_text=True)
    data["rating_sql"] = "3"
    assert client.post(f"/panels/{invitation_id}/scorecard", data=data).status_code == 302
    with app.app_context():
        stored = scorecards.own_scorecard(db.session.get(Invitation, invitation_id), db.session.get(User, alice.id))
        assert stored.rubric_slug == "analyst"
        assert {r.dimension_id: r.level for r in stored.ratings} == {"sql": 3, "evaluation-rigor": 3}
        # Without a case, pages rate against the rubric the general kit names.
        assert scorecards.rubric_for().slug == "lead-ml-scientist"
    debrief = client.get(f"/panels/{invitation_id}/debrief").get_data(as_text=True)
    assert "3 <small>Above</small>" in debrief
    assert "Yes 1" in debrief


def _focus(app, invitation_id):
    with app.app_context():
        return scorecards.kit_for(db.session.get(Invitation, invitation_id)).focus_dimension_ids


def test_a_draft_is_kept_apart_private_never_counted_and_replaced_by_submit(app, client, auth, panel):
    invitation_id, (alice, bob, carol) = panel
    with app.app_context():
        rubric = scorecards.rubric_for()
        draft_only = ScorecardResult(
            rubric.slug,
            rubric.content_hash,
            {"evaluation-rigor": 2},
            {"evaluation-rigor": DRAFT_NOTE},
            (),
            "",
            None,
            False,
        )
        scorecards.save_scorecard(db.session.get(Invitation, invitation_id), db.session.get(User, alice.id), draft_only)
    _submit(app, invitation_id, bob, {"evaluation-rigor": 3})
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        alice_user, bob_user = db.session.get(User, alice.id), db.session.get(User, bob.id)
        draft = scorecard_drafts.find_draft(invitation, alice_user)
        assert draft is not None and draft.fields["ratings"] == {"evaluation-rigor": 2}
        # Never counted: no scorecard row, not submitted, still pending at the debrief.
        assert scorecards.own_scorecard(invitation, alice_user) is None
        assert not scorecards.has_submitted(invitation, alice_user)
        assert [s.interviewer_id for s in scorecards.submitted_scorecards(invitation, bob_user)] == [bob.id]
        assert [u.id for u in scorecards.debrief(invitation, bob_user).pending] == [alice.id, carol.id]
        assert scorecard_drafts.find_draft(invitation, bob_user) is None
        resumed, saved_at = scorecards.resume_point(invitation, alice_user)
        assert resumed.ratings == {"evaluation-rigor": 2} and saved_at == draft.saved_at
    auth.login(bob.email)
    for url in ("debrief", "scorecards.json", "scorecards.csv", "packet"):
        assert DRAFT_NOTE not in client.get(f"/panels/{invitation_id}/{url}").get_data(as_text=True), url
    submitted = _submit(app, invitation_id, alice, {"evaluation-rigor": 4, "communication": None})
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        alice_user = db.session.get(User, alice.id)
        assert scorecard_drafts.find_draft(invitation, alice_user) is None
        assert scorecards.own_scorecard(invitation, alice_user).id == submitted
        assert scorecards.resume_point(invitation, alice_user) == (None, None)


def test_autosave_keeps_a_draft_the_page_resumes_and_never_submits(app, client, auth, panel):
    invitation_id, (alice, *_) = panel
    focus = _focus(app, invitation_id)
    key = focus[0].replace("-", "_")
    auth.login(alice.email)
    url = f"/panels/{invitation_id}/scorecard/draft"
    response = client.post(url, data={f"rating_{key}": "3", f"evidence_{key}": "Typed half a note"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["saved"] and body["text"].startswith("Draft saved ")
    page = client.get(f"/panels/{invitation_id}/scorecard").get_data(as_text=True)
    assert "Typed half a note" in page and "Draft saved" in page
    assert 'data-autosave-url="/panels/' in page
    # A post that asks to submit is refused: autosave only keeps drafts.
    data = {"recommendation": "yes", "submit": "Submit scorecard"}
    for dim in focus:
        data[f"rating_{dim.replace('-', '_')}"] = "3"
        data[f"evidence_{dim.replace('-', '_')}"] = "Explained the SRM check and its p-value clearly."
    assert client.post(url, data=data).status_code == 400
    # A malformed draft is refused with the form's message, and the stored draft stays.
    bad = client.post(url, data={f"rating_{key}": "9"})
    assert bad.status_code == 400 and "Choose a level" in bad.get_json()["errors"][0]
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        user = db.session.get(User, alice.id)
        assert not scorecards.has_submitted(invitation, user)
        assert scorecard_drafts.find_draft(invitation, user).fields["evidence"] == {focus[0]: "Typed half a note"}
    # Submitting through the page replaces the draft.
    assert client.post(f"/panels/{invitation_id}/scorecard", data=data).status_code == 302
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        assert scorecard_drafts.find_draft(invitation, db.session.get(User, alice.id)) is None
    assert client.post(url, data={f"rating_{key}": "2"}).status_code == 409


def test_autosave_needs_the_csrf_token(app, client, auth, panel):
    invitation_id, (alice, *_) = panel
    key = _focus(app, invitation_id)[0].replace("-", "_")
    auth.login(alice.email)
    app.config["WTF_CSRF_ENABLED"] = True
    page = client.get(f"/panels/{invitation_id}/scorecard").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    url = f"/panels/{invitation_id}/scorecard/draft"
    assert client.post(url, data={f"rating_{key}": "3"}).status_code == 400
    assert client.post(url, data={f"rating_{key}": "3", "csrf_token": token}).status_code == 200


def test_missing_fields_are_listed_in_a_summary_linking_to_each(app, client, auth, panel):
    invitation_id, (alice, *_) = panel
    focus = _focus(app, invitation_id)
    auth.login(alice.email)
    response = client.post(f"/panels/{invitation_id}/scorecard", data={"submit": "Submit scorecard"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    summary = html.split('id="error-summary"')[1].split("</div>")[0]
    for dim in focus:
        target = f"rating_{dim.replace('-', '_')}-0"
        assert f'href="#{target}"' in summary
        assert f'id="{target}"' in html
    assert 'href="#recommendation-0"' in summary and 'id="recommendation-0"' in html
    assert summary.index(f"rating_{focus[0].replace('-', '_')}") < summary.index("recommendation-0")
