"""A real SMTP server on loopback (aiosmtpd) that tests read mails from, and can make refuse mails."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class Inbox:
    """The aiosmtpd handler: keeps every mail it accepts; refuses the next `refuse_next` with a 451."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse_next = 0
        self.refused = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                self.refused += 1
                return "451 4.3.0 Try again later (test server refusing)"
            message = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
        return "250 OK"


class SmtpServer:
    """A running server: its MAIL_URL and the mails it received."""

    def __init__(self, inbox: Inbox, port: int) -> None:
        self.inbox = inbox
        self.port = port
        self.url = f"smtp://127.0.0.1:{port}/?timeout=5"

    @property
    def messages(self) -> list[EmailMessage]:
        return list(self.inbox.messages)

    def refuse(self, count: int) -> None:
        """Answer the next `count` mails with a temporary failure."""
        self.inbox.refuse_next = count

    def wait_for(self, to: str, timeout: float = 10.0, count: int = 1) -> EmailMessage:
        """The `count`-th mail to this address, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.messages if to in str(m["To"])]
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no mail #{count} to {to} within {timeout}s; got {[str(m['To']) for m in self.messages]}"
                )
            time.sleep(0.05)


def text_of(message: EmailMessage) -> str:
    """The plain-text part of a mail."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def html_of(message: EmailMessage) -> str:
    """The HTML part of a mail."""
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return part.get_content()


def link_in(message: EmailMessage, path: str = "/password/set/") -> str:
    """The first link in a mail's text part whose path contains `path`."""
    match = re.search(r"https?://\S*" + re.escape(path) + r"\S+", text_of(message))
    assert match, text_of(message)
    return match.group(0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server on a free loopback port for the duration of the block."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield SmtpServer(inbox, port)
    finally:
        controller.stop()
