"""The CLI: init (migrations), create-user and seed-demo."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select

from assessments.extensions import db
from assessments.models import Invitation, Rating, Scorecard, Submission, User
from assessments.services import demo, demo_fairness, demo_panels
from assessments.storage import submission_store


def test_migrations_build_exactly_the_models(app):
    """A fresh database upgraded by the migrations matches the models (no drift)."""
    with app.app_context():
        with db.engine.begin() as conn:
            db.metadata.drop_all(conn)
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []
        downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() in ([], ["alembic_version"])
        upgrade()


def test_create_user_command(app, runner):
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "new@example.com",
            "--name",
            "New Person",
            "--role",
            "mentor",
            "--password",
            "long enough pw",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created mentor new@example.com" in result.output
    again = runner.invoke(
        args=[
            "create-user",
            "--email",
            "new@example.com",
            "--name",
            "X",
            "--role",
            "mentor",
            "--password",
            "long enough pw",
        ]
    )
    assert again.exit_code != 0
    assert "already exists" in again.output


def test_seed_demo_is_idempotent_and_prints_logins_and_links(app, runner):
    first = runner.invoke(args=["seed-demo", "--base-url", "http://demo.test"])
    assert first.exit_code == 0, first.output
    assert "admin@example.com" in first.output
    assert "password: demo-password" in first.output
    links = [line.split()[-1] for line in first.output.splitlines() if "http://demo.test/i/" in line]
    assert links, first.output

    def counts() -> tuple[int, ...]:
        with app.app_context():
            return tuple(
                db.session.scalar(select(func.count()).select_from(model))
                for model in (User, Invitation, Scorecard, Rating)
            )

    before = counts()
    second = runner.invoke(args=["seed-demo", "--base-url", "http://demo.test"])
    assert second.exit_code == 0
    assert [line.split()[-1] for line in second.output.splitlines() if "/i/" in line] == links
    assert counts() == before  # nothing added twice
    users, invitations, scorecards, ratings = before
    assert users >= len(demo.DEMO_USERS)
    assert invitations == len(links) + demo_panels.HISTORY_CANDIDATES + demo_fairness.POOL_SIZE
    # A realistic panel: submitted scorecards from several interviewers per past candidate.
    assert scorecards >= 3 * demo_panels.HISTORY_CANDIDATES and ratings > 8 * scorecards // 2
    client = app.test_client()
    assert client.get(links[0].replace("http://demo.test", "")).status_code == 200
    # Every demo submission's notebook is in the store, so staff pages open on any of them.
    with app.app_context():
        store, missing = submission_store(), []
        for submission in db.session.scalars(select(Submission)):
            try:
                store.get(submission.sha256)
            except FileNotFoundError:
                missing.append(submission.id)
    assert not missing, missing
