"""Sending one mail (assessments/mail.py): MAIL_URL, the MIME parts, SMTP and the log."""

from __future__ import annotations

import logging

import pytest

from assessments.mail import (
    LogTransport,
    Mail,
    MailError,
    MailSettingsError,
    SmtpTransport,
    build_message,
    parse_mail_url,
    sender_for,
)
from tests.mailserver import html_of, running_smtp_server, text_of

MAIL = Mail(
    sender="Assessments <no-reply@example.com>",
    to="iris@example.com",
    subject="Set your password",
    text="Hello Iris,\n\nhttps://x.test/password/set/SECRET-TOKEN\n",
    html='<p>Hello Iris, <a href="https://x.test/password/set/SECRET-TOKEN">set it</a></p>',
)


def test_smtp_url_with_starttls_and_credentials():
    s = parse_mail_url("smtp://ops%40example.com:p%40ss@mail.example.com:587/?starttls=1")
    assert (s.host, s.port, s.tls, s.starttls) == ("mail.example.com", 587, False, True)
    assert (s.username, s.password) == ("ops@example.com", "p@ss")


def test_smtps_url_defaults_to_port_465_and_takes_a_sender():
    s = parse_mail_url("smtps://mail.example.com/?from=Hiring%20%3Chiring%40example.com%3E&timeout=3")
    assert (s.port, s.tls, s.starttls, s.timeout) == (465, True, False, 3.0)
    assert sender_for("smtps://mail.example.com/?from=hiring%40example.com", "default@x") == "hiring@example.com"
    assert sender_for(None, "default@x") == "default@x"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://mail.example.com", "smtp://"),
        ("smtp:///", "no host"),
        ("smtp://mail.example.com/?tls=1", "unknown options: tls"),
        ("smtp://mail.example.com:notaport/", "bad port"),
        ("smtps://mail.example.com/?starttls=1", "already TLS"),
        ("smtp://mail.example.com/?timeout=soon", "number of seconds"),
    ],
)
def test_unusable_mail_urls_say_what_is_wrong(url, says):
    with pytest.raises(MailSettingsError, match=says):
        parse_mail_url(url)


def test_message_has_a_text_part_and_an_html_alternative():
    message = build_message(MAIL)
    assert message.get_content_type() == "multipart/alternative"
    assert "SECRET-TOKEN" in text_of(message)
    assert "<a href=" in html_of(message)
    assert message["Message-ID"].endswith("@example.com>")


def test_smtp_transport_delivers_to_a_real_server():
    with running_smtp_server() as server:
        SmtpTransport(parse_mail_url(server.url)).send(MAIL)
        received = server.wait_for("iris@example.com")
    assert received["Subject"] == "Set your password"
    assert "Hello Iris" in text_of(received)


def test_smtp_transport_reports_a_refusal_with_the_servers_answer():
    with running_smtp_server() as server:
        server.refuse(1)
        with pytest.raises(MailError, match="451"):
            SmtpTransport(parse_mail_url(server.url)).send(MAIL)
        assert server.messages == []


def test_smtp_transport_reports_a_server_that_is_not_there():
    with running_smtp_server() as server:
        url = server.url
    with pytest.raises(MailError, match="ConnectionRefusedError"):
        SmtpTransport(parse_mail_url(url)).send(MAIL)


def test_log_transport_writes_the_mail_without_the_links_secret(caplog):
    with caplog.at_level(logging.INFO, logger="assessments.mail"):
        LogTransport().send(MAIL)
    assert "Set your password" in caplog.text
    assert "/password/set/<redacted>" in caplog.text
    assert "SECRET-TOKEN" not in caplog.text


def test_request_logs_redact_set_password_tokens_like_invitation_tokens():
    from assessments.logs import redact_path

    assert redact_path("/password/set/abc-DEF_123") == "/password/set/<redacted>"
    assert redact_path('GET /password/set/abc?x=1 "/i/tok"') == 'GET /password/set/<redacted>?x=1 "/i/<redacted>"'
    assert redact_path("/password/forgot") == "/password/forgot"
