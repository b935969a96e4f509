"""`flask --app app invite`: a scripted invitation that prints the link and mails it with MAIL_URL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from assessments.extensions import db
from assessments.models import Candidate, Invitation, OutboxMail
from assessments.models.types import utcnow
from tests.mailserver import text_of


def _deadline(days: float = 3) -> str:
    return (utcnow() + timedelta(days=days)).isoformat(timespec="minutes")


def test_invite_prints_a_working_link_and_sends_nothing_without_mail_url(app, runner, client, make_user):
    make_user("interviewer", email="iris@example.com")
    make_user("interviewer", email="omar@example.com")
    result = runner.invoke(
        args=[
            "invite",
            "dana@example.org",
            "--case",
            "tiny-hiring",
            "--deadline",
            _deadline(),
            "--panel",
            "iris@example.com, omar@example.com",
            "--timed",
            "--name",
            "Dana Candidate",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Invited Dana Candidate <dana@example.org> to Tiny hiring case" in result.output
    assert "timed" in result.output and "MAIL_URL is not set" in result.output
    link = next(line for line in result.output.splitlines() if "/i/" in line)
    assert client.get(link.split("localhost:8000", 1)[1] if "localhost:8000" in link else link).status_code == 200
    with app.app_context():
        invitation = db.session.scalars(select(Invitation)).one()
        assert sorted(m.interviewer.email for m in invitation.panel) == ["iris@example.com", "omar@example.com"]
        assert invitation.timed
        assert db.session.scalars(select(OutboxMail)).all() == []


def test_invite_mails_the_link_when_mail_url_is_set(app, runner, smtp_server):
    result = runner.invoke(
        args=[
            "invite",
            "dana@example.org",
            "--case",
            "tiny-hiring",
            "--deadline",
            _deadline(),
            "--name",
            "Dana Candidate",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "needs a panel" in result.output and "Mailed to dana@example.org" in result.output
    link = next(line for line in result.output.splitlines() if "/i/" in line)
    received = smtp_server.wait_for("dana@example.org")
    assert link in text_of(received)


def test_invite_reuses_the_candidate_and_refuses_bad_input(app, runner, make_user):
    first = runner.invoke(
        args=[
            "invite",
            "dana@example.org",
            "--case",
            "tiny-hiring",
            "--deadline",
            _deadline(),
            "--name",
            "Dana Candidate",
        ]
    )
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=["invite", "DANA@example.org", "--case", "tiny-hiring", "--deadline", _deadline(5)])
    assert again.exit_code == 0, again.output
    assert "already a candidate (Dana Candidate): added this case" in again.output
    with app.app_context():
        assert len(db.session.scalars(select(Candidate)).all()) == 1
        assert len(db.session.scalars(select(Invitation)).all()) == 2
    unnamed = runner.invoke(args=["invite", "new@example.org", "--case", "tiny-hiring", "--deadline", _deadline()])
    assert unnamed.exit_code == 1 and "give their name with --name" in unnamed.output
    unknown_case = runner.invoke(args=["invite", "dana@example.org", "--case", "nope", "--deadline", _deadline()])
    assert unknown_case.exit_code == 1 and "no case called 'nope'" in unknown_case.output
    stranger = runner.invoke(
        args=[
            "invite",
            "dana@example.org",
            "--case",
            "tiny-hiring",
            "--deadline",
            _deadline(),
            "--panel",
            "nobody@example.com",
        ]
    )
    assert stranger.exit_code == 1 and "no account for nobody@example.com" in stranger.output
    make_user("mentee", email="mia@example.com")
    mentee = runner.invoke(
        args=[
            "invite",
            "dana@example.org",
            "--case",
            "tiny-hiring",
            "--deadline",
            _deadline(),
            "--panel",
            "mia@example.com",
        ]
    )
    assert mentee.exit_code == 1 and "not an active interviewer" in mentee.output
    bad_date = runner.invoke(args=["invite", "dana@example.org", "--case", "tiny-hiring", "--deadline", "friday"])
    assert bad_date.exit_code == 2 and "ISO 8601" in bad_date.output
    past = runner.invoke(
        args=["invite", "dana@example.org", "--case", "tiny-hiring", "--deadline", "2020-01-01T00:00Z"]
    )
    assert past.exit_code == 1 and "deadline must be after" in past.output
