"""Sending one mail: over SMTP when `MAIL_URL` names a server, else to the log.

    MAIL_URL=smtp://user:password@host:587/?starttls=1    SMTP, upgraded with STARTTLS
    MAIL_URL=smtps://user:password@host:465/              SMTP over TLS from the first byte
    query options: starttls=1, timeout=SECONDS, from=ADDRESS (else MAIL_FROM)

This module knows nothing of the outbox table: `services/outbox.py` renders a mail, records it,
and has a worker hand it to `transport_for(...).send`, which raises `MailError` when the server
did not take it. The log transport never writes a link's token (`logs.redact_path`).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from abc import ABC, abstractmethod
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from assessments.logs import redact_path

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 20.0
_TRUE = {"1", "true", "yes", "on"}


class MailError(Exception):
    """The mail server did not take a mail; the message says why (for the outbox page)."""


class MailSettingsError(ValueError):
    """A `MAIL_URL` this module cannot use; the message says what is wrong."""


@dataclass(frozen=True)
class Mail:
    """One message, ready to send: who from and to, the subject, a text part and an HTML part."""

    sender: str
    to: str
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to reach the SMTP server, read from `MAIL_URL`."""

    host: str
    port: int
    tls: bool  # smtps://: TLS from the first byte
    starttls: bool
    username: str | None
    password: str | None
    timeout: float
    sender: str | None  # ?from=..., overrides MAIL_FROM


def parse_mail_url(url: str) -> SmtpSettings:
    """Read an `smtp://` or `smtps://` URL.

    :raises MailSettingsError: for another scheme, no host or a bad port or option.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise MailSettingsError(f"MAIL_URL must start with smtp:// or smtps://, not {parts.scheme or 'nothing'}://.")
    if not parts.hostname:
        raise MailSettingsError("MAIL_URL names no host.")
    try:
        port = parts.port
    except ValueError as error:
        raise MailSettingsError(f"MAIL_URL has a bad port: {error}.") from error
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "timeout", "from"}
    if unknown:
        raise MailSettingsError(f"MAIL_URL has unknown options: {', '.join(sorted(unknown))}.")
    try:
        timeout = float(query.get("timeout", DEFAULT_TIMEOUT_SECONDS))
    except ValueError as error:
        raise MailSettingsError("MAIL_URL's timeout must be a number of seconds.") from error
    tls = parts.scheme == "smtps"
    starttls = query.get("starttls", "").lower() in _TRUE
    if tls and starttls:
        raise MailSettingsError("MAIL_URL: smtps:// is already TLS; starttls=1 is for smtp://.")
    return SmtpSettings(
        host=parts.hostname,
        port=port or (465 if tls else 25),
        tls=tls,
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout=timeout,
        sender=query.get("from") or None,
    )


def build_message(mail: Mail) -> EmailMessage:
    """The MIME message: text/plain, with text/html as the alternative when there is one."""
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    domain = parseaddr(mail.sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    return message


class Transport(ABC):
    """Delivers a mail somewhere."""

    name: str

    @abstractmethod
    def send(self, mail: Mail) -> None:
        """Deliver the mail.

        :raises MailError: when it was not delivered (a retry may succeed).
        """


class SmtpTransport(Transport):
    """Hands each mail to an SMTP server, one connection per mail."""

    name = "smtp"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, mail: Mail) -> None:
        s = self.settings
        message = build_message(mail)
        try:
            if s.tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            with client:
                if s.starttls:
                    client.starttls(context=ssl.create_default_context())
                if s.username:
                    client.login(s.username, s.password or "")
                refused = client.send_message(message)
        except smtplib.SMTPResponseException as error:
            detail = (
                error.smtp_error.decode(errors="replace")
                if isinstance(error.smtp_error, bytes)
                else str(error.smtp_error)
            )
            raise MailError(f"{s.host}:{s.port} answered {error.smtp_code}: {detail}") from error
        except smtplib.SMTPRecipientsRefused as error:
            raise MailError(f"{s.host}:{s.port} refused the recipient: {_refusals(error.recipients)}") from error
        except (smtplib.SMTPException, OSError) as error:
            raise MailError(f"{s.host}:{s.port}: {type(error).__name__}: {error}") from error
        if refused:
            raise MailError(f"{s.host}:{s.port} refused the recipient: {_refusals(refused)}")


def _refusals(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{to} ({code} {reply.decode(errors='replace')})" for to, (code, reply) in recipients.items())


class LogTransport(Transport):
    """No mail server configured: the mail goes to the log, with any link's token removed."""

    name = "log"

    def send(self, mail: Mail) -> None:
        log.info(
            "mail (no MAIL_URL set, so not sent) to %s: %s\n%s",
            mail.to,
            mail.subject,
            redact_path(mail.text),
        )


def transport_for(url: str | None) -> Transport:
    """The transport `MAIL_URL` asks for: SMTP, or the log when it is empty.

    :raises MailSettingsError: for a URL that cannot be used.
    """
    if not url:
        return LogTransport()
    return SmtpTransport(parse_mail_url(url))


def sender_for(url: str | None, default: str) -> str:
    """The From address: MAIL_URL's `from=` option, else `default` (MAIL_FROM)."""
    if url:
        chosen = parse_mail_url(url).sender
        if chosen:
            return chosen
    return default
