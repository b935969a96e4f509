"""Capabilities: what each role may do, stated once, and every route saying which one it needs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask import render_template_string
from flask_login import AnonymousUserMixin

from assessments.models import Role
from assessments.permissions import ROLE_CAPABILITIES, Capability, can, roles_with
from assessments.services import panels
from tests.test_access import FORBIDDEN, LOGIN, MATRIX

C = Capability
# The capability table, as a reader should be able to check it: one row per capability, one column
# per role. Changing who may do what means changing this table and `ROLE_CAPABILITIES` together.
TABLE: list[tuple[Capability, dict[Role, bool]]] = [
    #                           admin  interviewer  mentor  mentee
    (C.INVITE,          dict(zip(Role, (True,  False,       False,  False), strict=True))),
    (C.SIT_ON_PANEL,    dict(zip(Role, (True,  True,        False,  False), strict=True))),
    (C.SEE_EVERY_PANEL, dict(zip(Role, (True,  False,       False,  False), strict=True))),
    (C.REGRADE,         dict(zip(Role, (True,  False,       False,  False), strict=True))),
    (C.CALIBRATE,       dict(zip(Role, (True,  False,       False,  False), strict=True))),
    (C.PAIR_MENTORS,    dict(zip(Role, (True,  False,       False,  False), strict=True))),
    (C.MANAGE_PEOPLE,   dict(zip(Role, (True,  False,       False,  False), strict=True))),
    (C.MENTOR,          dict(zip(Role, (False, False,       True,   False), strict=True))),
    (C.PRACTISE,        dict(zip(Role, (False, False,       False,  True),  strict=True))),
    (C.AUDIT_FAIRNESS,  dict(zip(Role, (True,  False,       False,  False), strict=True))),
    (C.RECORD_OUTCOMES, dict(zip(Role, (True,  False,       False,  False), strict=True))),
]  # fmt: skip

# Routes that need no capability, and why. A new route must either require one (`requires`) or be
# added here on purpose.
OPEN_ROUTES = {
    "main.index": "sends people to sign in or to their dashboard",
    "main.dashboard": "every signed-in account's home page (login_required); its parts ask `can`",
    "auth.login": "signing in",
    "auth.logout": "signing out (login_required)",
    "password.forgot": "asking for a set-password link, signed out",
    "password.set_password": "the mailed link's token is the credential",
    "candidate.invitation": "the invitation token is the credential",
    "candidate.bundle": "the invitation token is the credential",
    "candidate.status": "the invitation token is the credential",
    "candidate.upload": "the invitation token is the credential",
    "candidate.self_identification": "the invitation token is the credential",
    "candidate.save_self_identification": "the invitation token is the credential",
    "vendor.plotly_js": "a public script",
    "static": "public files",
    "ops.healthz": "operations probe",
    "ops.readyz": "operations probe",
    "ops.metrics": "operations probe, loopback only",
}


def test_the_column_order_is_the_roles():
    assert list(Role) == [Role.ADMIN, Role.INTERVIEWER, Role.MENTOR, Role.MENTEE]


@pytest.mark.parametrize(("capability", "granted"), TABLE, ids=[c.value for c, _ in TABLE])
def test_each_role_has_the_capabilities_of_the_table(capability, granted):
    for role, expected in granted.items():
        assert can(SimpleNamespace(role=role), capability) is expected, (role, capability)
        assert can(SimpleNamespace(role=str(role)), capability) is expected, "a role read back as a plain string"
    assert set(roles_with(capability)) == {role for role, expected in granted.items() if expected}


def test_the_table_covers_every_capability_and_role():
    assert [c for c, _ in TABLE] == list(Capability)
    assert set(ROLE_CAPABILITIES) == set(Role)


def test_anonymous_visitors_and_unknown_roles_can_do_nothing():
    for capability in Capability:
        assert not can(AnonymousUserMixin(), capability)
        assert not can(SimpleNamespace(role="owner"), capability)
        assert not can(SimpleNamespace(role=None), capability)


def test_every_route_requires_a_capability_or_is_open_on_purpose(app):
    undeclared, declared_open = [], []
    for rule in app.url_map.iter_rules():
        capability = getattr(app.view_functions[rule.endpoint], "required_capability", None)
        if rule.endpoint in OPEN_ROUTES:
            if capability is not None:
                declared_open.append(rule.endpoint)
        elif capability is None:
            undeclared.append(rule.endpoint)
    assert not undeclared, f"routes with no @requires(Capability...) and not in OPEN_ROUTES: {sorted(undeclared)}"
    assert not declared_open, f"OPEN_ROUTES lists routes that require a capability: {sorted(declared_open)}"


def test_the_access_matrix_agrees_with_the_capabilities(app):
    for endpoint, (_, _, expectations) in MATRIX.items():
        capability = getattr(app.view_functions[endpoint], "required_capability", None)
        if capability is None:
            continue
        for role in ("anonymous", "candidate", *Role):
            expected = expectations.get(role, expectations.get("*"))
            if role in ("anonymous", "candidate"):
                assert expected == LOGIN, (endpoint, role)
            elif not can(SimpleNamespace(role=role), capability):
                assert expected == FORBIDDEN, (endpoint, role)


def test_templates_ask_can_of_the_signed_in_person(app):
    with app.test_request_context():
        assert render_template_string("{{ can(Capability.INVITE) }}") == "False"
        with pytest.raises(TypeError):
            render_template_string("{{ can(Capability.INVTE) }}")
        with pytest.raises(TypeError):
            render_template_string("{{ can('invite') }}")


# The links each role finds in the header: what its capabilities open, nothing more.
NAV = {
    Role.ADMIN: ["Pipeline", "Calibration", "Mentor pairings", "People", "Outbox"],
    Role.INTERVIEWER: [],
    Role.MENTOR: ["Mentees"],
    Role.MENTEE: ["Practice", "Progress"],
}
NAV_LINKS = ["Pipeline", "Calibration", "Mentor pairings", "People", "Outbox", "Practice", "Progress", "Mentees"]


@pytest.mark.parametrize("role", list(Role))
def test_the_header_shows_each_role_its_pages(client, auth, make_user, role):
    auth.login(make_user(role).email)
    page = client.get("/dashboard").get_data(as_text=True)
    nav = page[page.index('<nav aria-label="Main">') : page.index("</nav>")]
    shown = [label for label in NAV_LINKS if f">{label}</a>" in nav]
    assert shown == NAV[role]


def test_panel_choices_are_interviewers_then_admins_by_name(app, make_user):
    people = [
        ("admin", "Zed Admin"),
        ("admin", "Abe Admin"),
        ("interviewer", "Yan Interviewer"),
        ("interviewer", "Bo Interviewer"),
        ("mentor", "Al Mentor"),
        ("mentee", "Al Mentee"),
    ]
    for role, name in people:
        make_user(role, name=name)
    with app.app_context():
        names = [u.display_name for u in panels.panel_choices()]
    assert names == ["Bo Interviewer", "Yan Interviewer", "Abe Admin", "Zed Admin"]
