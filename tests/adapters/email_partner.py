"""The e-mail partner played by a test client: it reads its mailbox over IMAP, as a person's mail program does."""

from __future__ import annotations

import imaplib
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from tests.adapters.partners import Harness
from tests.adapters.servers.mail import MailServers


class EmailPartner(Harness):
    """The partner's people (``partner`` and ``crew``) and our mailbox (``desk``) on the real servers."""

    adapter = "email"
    has_server = True
    has_credentials = True

    def __init__(self, servers: MailServers) -> None:
        self.servers = servers

    def config(self, **overrides: Any) -> dict[str, Any]:
        desk = self.servers.users["desk"]
        return {
            "addresses": [self.servers.users["partner"].address, self.servers.users["crew"].address],
            "mailbox": desk.address,
            "smtp_host": "127.0.0.1",
            "smtp_port": self.servers.smtp_port,
            "smtp_security": "none",
            "smtp_user": desk.name,
            "smtp_secret": desk.password,
            "imap_host": "127.0.0.1",
            "imap_port": self.servers.imap_port,
            "imap_tls": False,
            "imap_user": desk.name,
            "imap_secret": desk.password,
            **overrides,
        }

    def bad_config(self) -> dict[str, Any]:
        return self.config(smtp_secret="not the password")

    def inbox(self, user: str = "partner") -> list[EmailMessage]:
        """Every message in ``user``'s inbox, oldest first, left unread."""
        imap = imaplib.IMAP4("127.0.0.1", self.servers.imap_port, timeout=10)
        try:
            imap.login(user, self.servers.users[user].password)
            imap.select("INBOX", readonly=True)
            _, [found] = imap.uid("SEARCH", "ALL")
            return [_fetch(imap, uid) for uid in found.split()]
        finally:
            imap.logout()

    def thread(self, uid: str, user: str = "partner") -> list[EmailMessage]:
        """The e-mails of one engagement that reached ``user``, oldest first."""
        return [m for m in self.inbox(user) if uid in str(m["Message-ID"]) or uid in str(m["References"] or "")]


def _fetch(imap: imaplib.IMAP4, uid: bytes) -> EmailMessage:
    _, data = imap.uid("FETCH", uid, "(BODY.PEEK[])")
    raw = data[0]
    assert isinstance(raw, tuple)
    message = message_from_bytes(raw[1], policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())
