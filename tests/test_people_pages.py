"""The admin pages for people and the outbox."""

from __future__ import annotations

from assessments.models import Role
from tests.test_outbox import TOKEN, _queue


def test_admin_invites_and_manages_a_person_through_the_pages(app, client, auth, make_user, smtp_server):
    boss = make_user(Role.ADMIN)
    auth.login(boss.email)
    response = client.post(
        "/admin/people/new", data={"name": "Iris Interviewer", "email": "iris@example.com", "role": "interviewer"}
    )
    assert response.status_code == 302
    person_url = response.headers["Location"]
    page = client.get(person_url).get_data(as_text=True)
    assert "invited, no password yet" in page
    assert "Set-password link" not in page  # a mail server is set: the link goes only by mail
    assert "You are invited to ML Assessments" in page  # the mail, listed on the person's page

    again = client.post("/admin/people/new", data={"name": "Iris", "email": "IRIS@example.com", "role": "mentor"})
    assert again.status_code == 400 and "already exists" in again.get_data(as_text=True)

    user_id = int(person_url.rstrip("/").rsplit("/", 1)[1])
    client.post(f"/admin/people/{user_id}/role", data={"role": "mentor"})
    assert "is now mentor" in client.get(person_url).get_data(as_text=True)
    client.post(f"/admin/people/{user_id}/deactivate")
    assert "deactivated" in client.get("/admin/people/").get_data(as_text=True)
    client.post(f"/admin/people/{user_id}/reactivate")
    client.post(f"/admin/people/{user_id}/link")
    assert len(smtp_server.messages) == 2
    # An admin cannot lock themselves out.
    client.post(f"/admin/people/{boss.id}/deactivate")
    assert "your own account" in client.get(f"/admin/people/{boss.id}").get_data(as_text=True)


def test_without_a_mail_server_the_admin_sees_the_link_once(app, client, auth, make_user):
    boss = make_user(Role.ADMIN)
    auth.login(boss.email)
    response = client.post("/admin/people/new", data={"name": "Mo", "email": "mo@example.com", "role": "mentor"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Set-password link" in page and "/password/set/" in page
    assert "/password/set/" not in client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_outbox_page_shows_failures_and_retries(app, client, auth, make_user, smtp_server):
    admin = make_user("admin")
    smtp_server.refuse(1)
    with app.app_context():
        mail_id = _queue()
    auth.login(admin.email)
    page = client.get("/admin/outbox/").get_data(as_text=True)
    assert "retrying" in page and "451" in page and "Retry" in page
    detail = client.get(f"/admin/outbox/{mail_id}").get_data(as_text=True)
    assert "failed: " in detail
    assert TOKEN not in detail and "/password/set/&lt;redacted&gt;" in detail
    response = client.post(f"/admin/outbox/{mail_id}/retry")
    assert response.status_code == 302
    assert len(smtp_server.messages) == 1
    page = client.get("/admin/outbox/?status=sent").get_data(as_text=True)
    assert "sent after 2 attempts" not in page  # a manual retry starts a fresh count
    assert "iris@example.com" in page
    # A sent mail has nothing to retry.
    client.post(f"/admin/outbox/{mail_id}/retry")
    assert "already sent" in client.get(f"/admin/outbox/{mail_id}").get_data(as_text=True)
