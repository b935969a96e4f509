"""The assessment platform: `create_app` wires configuration, extensions, blueprints and CLI."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from assessments.config import (
    DEFAULTS,
    PROJECT_ROOT,
    engine_options,
    environment_overrides,
    instance_secret_key,
    upload_request_cap,
)
from assessments.content.seeds import load_key


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask app; `test_config` replaces the instance file and environment."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("ASSESS_INSTANCE_PATH", str(PROJECT_ROOT / "instance")),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_mapping(environment_overrides())
    else:
        app.config.from_mapping(test_config)

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(instance)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'assessments.db'}"
    if not app.config.get("SUBMISSIONS_DIR"):
        app.config["SUBMISSIONS_DIR"] = str(instance / "submissions")
    if not app.config.get("SEED_CACHE_DIR"):
        app.config["SEED_CACHE_DIR"] = str(instance / "seeds")
    # Kept out of app.config, which gets printed; a key that cannot be read stops the start here.
    app.extensions["assessments.seed_key"] = load_key(app.config["SEED_KEY"], instance / "seed.key")
    if not app.config.get("MAX_CONTENT_LENGTH"):
        app.config["MAX_CONTENT_LENGTH"] = upload_request_cap(app.config["UPLOAD_MAX_MB"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"],
        app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        app.config["DATABASE_CONNECT_TIMEOUT"],
    )

    _init_extensions(app)
    _register_blueprints(app)
    _init_templates(app)

    from assessments import cli, cli_fairness, cli_grading, cli_validity, queue, security, static_assets
    from assessments.services import grade_runs, grading, notifications, outbox, practice

    queue.init_app(app)
    # What the queue's tasks run (the queue imports no service), for both kinds of grade run.
    grade_runs.init_app(app, work=(grading.SubmissionGrading(), practice.AttemptGrading()))
    outbox.init_app(app)  # the same workers send the outbox's mails
    notifications.init_app(app)  # and sweep for due reminders
    security.init_app(app)
    static_assets.init_app(app)
    cli.init_app(app)
    cli_grading.init_app(app)
    cli_fairness.init_app(app)
    cli_validity.init_app(app)  # after the other CLI: it joins a registered fairness group

    from assessments import cli_ops, logs, ops

    ops.init_app(app)
    cli_ops.init_app(app)
    logs.init_app(app)  # last: its request timer goes first, ahead of the guards ops.py adds
    return app


def _init_extensions(app: Flask) -> None:
    from assessments import models  # noqa: F401  (registers the tables)
    from assessments.extensions import csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "info"


def _init_templates(app: Flask) -> None:
    # Templates ask what the signed-in person may do, and compare states, by enum: never by string.
    from flask_login import current_user

    from assessments.models import AttemptRoute, AttemptStatus, GradeStatus, InvitationStatus, ScorecardStatus
    from assessments.permissions import Capability, current_user_can
    from assessments.services import blinding

    app.jinja_env.globals.update(
        can=current_user_can,
        # The name an interviewer may see now: a candidate code while they read blind (`submitted`:
        # whether their own scorecard is in, when the page already knows).
        candidate_name=lambda invitation, submitted=None: blinding.candidate_name(current_user, invitation, submitted),
        Capability=Capability,
        AttemptRoute=AttemptRoute,
        AttemptStatus=AttemptStatus,
        GradeStatus=GradeStatus,
        InvitationStatus=InvitationStatus,
        ScorecardStatus=ScorecardStatus,
    )


def _register_blueprints(app: Flask) -> None:
    from assessments.views import (
        admin,
        auth,
        calibration,
        candidate,
        fairness,
        main,
        mentoring,
        outbox,
        packets,
        panels,
        password,
        people,
        practice,
        submissions,
        validity,
    )

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(candidate.bp)
    app.register_blueprint(submissions.bp)
    app.register_blueprint(panels.bp)
    app.register_blueprint(packets.bp)
    app.register_blueprint(calibration.bp)
    app.register_blueprint(calibration.vendor)
    app.register_blueprint(practice.bp)
    app.register_blueprint(mentoring.bp)
    app.register_blueprint(people.bp)
    app.register_blueprint(password.bp)
    app.register_blueprint(outbox.bp)
    app.register_blueprint(validity.bp)
    app.register_blueprint(fairness.bp)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL lets the grading worker write while pages read; SQLite enforces FKs only when asked."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
