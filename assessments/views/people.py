"""Admins' pages for staff accounts: invite by email, change a role, deactivate, send a link."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from assessments.errors import InvalidInput
from assessments.forms.people import AccountActionForm, PersonInviteForm, RoleForm
from assessments.models import Role
from assessments.permissions import Capability, requires
from assessments.services import outbox, passwords, people

bp = Blueprint("people", __name__, url_prefix="/admin/people")

_NEW_LINK_KEY = "new_password_link"
ROLE_CHOICES = [(role.value, role.value.title()) for role in Role]


def _remember_link(user_id: int, token: str) -> None:
    # Without a mail server nobody else can deliver the link: show it to this admin once.
    if not outbox.mail_configured():
        session[_NEW_LINK_KEY] = {"id": user_id, "token": token}


@bp.get("/")
@requires(Capability.MANAGE_PEOPLE)
def people_list() -> str:
    """Every account and its state."""
    return render_template("admin/people.html", people=people.list_people(), has_password=passwords.has_password)


@bp.route("/new", methods=["GET", "POST"])
@requires(Capability.MANAGE_PEOPLE)
def person_new() -> Response | tuple[str, int]:
    """Invite a person by email to an account with a role."""
    form = PersonInviteForm()
    form.role.choices = ROLE_CHOICES
    if form.validate_on_submit():
        try:
            user, token = people.invite_person(form.email.data, form.name.data, form.role.data, current_user)
        except InvalidInput as error:
            form.form_errors.append(error.message)
        else:
            _remember_link(user.id, token)
            flash(f"{user.display_name} is invited: a mail with a link to set a password is on its way.", "success")
            return redirect(url_for("people.person_detail", user_id=user.id))
    return render_template(
        "admin/person_new.html",
        form=form,
        mail_configured=outbox.mail_configured(),
        invite_hours=current_app.config["PASSWORD_INVITE_HOURS"],
    ), 400 if form.is_submitted() else 200


@bp.get("/<int:user_id>")
@requires(Capability.MANAGE_PEOPLE)
def person_detail(user_id: int) -> str:
    """One account: its role, state and mails, and what an admin can change."""
    person = people.get_person(user_id)
    link = None
    pending = session.get(_NEW_LINK_KEY)
    if pending and pending.get("id") == person.id:
        session.pop(_NEW_LINK_KEY)
        link = url_for("password.set_password", token=pending["token"], _external=True)
    role_form = RoleForm(role=person.role)
    role_form.role.choices = ROLE_CHOICES
    return render_template(
        "admin/person.html",
        person=person,
        link=link,
        role_form=role_form,
        action_form=AccountActionForm(),
        mails=outbox.mails_about(f"user:{person.id}"),
        has_password=passwords.has_password,
    )


@bp.post("/<int:user_id>/role")
@requires(Capability.MANAGE_PEOPLE)
def person_role(user_id: int) -> Response:
    """Give an account another role."""
    person = people.get_person(user_id)
    form = RoleForm()
    form.role.choices = ROLE_CHOICES
    if form.validate_on_submit():
        try:
            people.change_role(person, form.role.data, current_user)
        except InvalidInput as error:
            flash(error.message, "error")
        else:
            flash(f"{person.display_name} is now {person.role}.", "success")
    return redirect(url_for("people.person_detail", user_id=person.id))


@bp.post("/<int:user_id>/deactivate")
@requires(Capability.MANAGE_PEOPLE)
def person_deactivate(user_id: int) -> Response:
    """Stop an account from signing in."""
    person = people.get_person(user_id)
    if AccountActionForm().validate_on_submit():
        try:
            people.deactivate_person(person, current_user)
        except InvalidInput as error:
            flash(error.message, "error")
        else:
            flash(f"{person.display_name} can no longer sign in. Their scorecards and reviews stay.", "success")
    return redirect(url_for("people.person_detail", user_id=person.id))


@bp.post("/<int:user_id>/reactivate")
@requires(Capability.MANAGE_PEOPLE)
def person_reactivate(user_id: int) -> Response:
    """Let a deactivated account sign in again."""
    person = people.get_person(user_id)
    if AccountActionForm().validate_on_submit():
        people.reactivate_person(person, current_user)
        flash(f"{person.display_name} can sign in again.", "success")
    return redirect(url_for("people.person_detail", user_id=person.id))


@bp.post("/<int:user_id>/link")
@requires(Capability.MANAGE_PEOPLE)
def person_send_link(user_id: int) -> Response:
    """Mail an account a new set-password link."""
    person = people.get_person(user_id)
    if AccountActionForm().validate_on_submit():
        try:
            token = people.resend_password_link(person, current_user)
        except InvalidInput as error:
            flash(error.message, "error")
        else:
            _remember_link(person.id, token)
            flash(f"A new set-password link is on its way to {person.email}; earlier links stop working.", "success")
    return redirect(url_for("people.person_detail", user_id=person.id))
