"""CSRF, cookies, headers, and configuration secrets."""

from __future__ import annotations

import stat

from assessments import create_app
from assessments.config import environment_overrides, instance_secret_key
from tests.conftest import PASSWORD


def test_form_post_without_csrf_token_is_refused(app, client, make_user):
    app.config["WTF_CSRF_ENABLED"] = True
    make_user("admin", email="boss@example.com")
    response = client.post("/login", data={"email": "boss@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert b"Form expired" in response.data


def test_form_post_with_csrf_token_is_accepted(app, client, make_user):
    app.config["WTF_CSRF_ENABLED"] = True
    make_user("admin", email="boss@example.com")
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post("/login", data={"email": "boss@example.com", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def test_session_cookie_flags(client, make_user):
    make_user("admin", email="boss@example.com")
    response = client.post("/login", data={"email": "boss@example.com", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    secure = client.post(
        "/login",
        data={"email": "boss@example.com", "password": PASSWORD},
        base_url="https://localhost",
    )
    client.post("/logout", base_url="https://localhost")
    assert "Secure" in secure.headers.get("Set-Cookie", "Secure")


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_pages_load_no_third_party_assets(client, make_invitation):
    _, token = make_invitation()
    for url in ("/login", f"/i/{token}"):
        page = client.get(url).get_data(as_text=True)
        assert "http://" not in page.replace("http://localhost", "")
        assert "https://" not in page


def test_secret_key_is_created_once_with_0600(tmp_path):
    first = instance_secret_key(tmp_path)
    second = instance_secret_key(tmp_path)
    assert first == second and len(first) == 64
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_environment_overrides_configuration(tmp_path, monkeypatch):
    overrides = environment_overrides(
        {"DATABASE_URL": "postgres://u@h/db", "REDIS_URL": "redis://h:6379/1", "SECRET_KEY": "s"}
    )
    assert overrides["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert overrides["REDIS_URL"] == "redis://h:6379/1"
    monkeypatch.setenv("ASSESS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'x.db'}"
    assert (tmp_path / "secret_key").exists()
    assert app.config["SECRET_KEY"] == (tmp_path / "secret_key").read_text()
