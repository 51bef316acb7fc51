"""Hand an e-mail to an SMTP server: plain text with an HTML alternative, standard library only."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from enum import Enum
from typing import Any

from outsource_plugin.db.models import MailMessage


class Security(str, Enum):
    """How the connection to the SMTP server is protected."""

    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send: the notifier's OUTSOURCE_MAIL_* settings, or an e-mail partner's own."""

    host: str
    port: int
    security: Security = Security.NONE
    user: str = ""
    password: str = ""
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SmtpServer:
        security = (
            Security.TLS
            if config["OUTSOURCE_MAIL_USE_TLS"]
            else Security.STARTTLS
            if config["OUTSOURCE_MAIL_STARTTLS"]
            else Security.NONE
        )
        return cls(
            host=str(config["OUTSOURCE_MAIL_SERVER"]),
            port=int(config["OUTSOURCE_MAIL_PORT"]),
            security=security,
            user=str(config["OUTSOURCE_MAIL_USERNAME"] or ""),
            password=str(config["OUTSOURCE_MAIL_PASSWORD"] or ""),
            timeout=float(config["OUTSOURCE_MAIL_TIMEOUT"]),
        )


def build_message(config: dict[str, Any], mail: MailMessage) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = str(config["OUTSOURCE_MAIL_FROM"])
    message["To"] = mail.recipient
    message["Date"] = format_datetime(mail.created_at)
    message["Message-ID"] = mail.message_id
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    return message


def send_message(config: dict[str, Any], message: EmailMessage) -> None:
    """Send through the notifier's server (OUTSOURCE_MAIL_*); see ``send_via``."""
    send_via(SmtpServer.from_config(config), message)


def connect(server: SmtpServer) -> smtplib.SMTP:
    """An open, logged-in connection; raises ``OSError`` or ``smtplib.SMTPException`` as ``send_via`` does."""
    tls = ssl.create_default_context()
    smtp = (
        smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout, context=tls)
        if server.security is Security.TLS
        else smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    )
    try:
        if server.security is Security.STARTTLS:
            smtp.starttls(context=tls)
        if server.user:
            smtp.login(server.user, server.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def send_via(server: SmtpServer, message: EmailMessage) -> None:
    """One connection per message: mail is rare, and a fresh connection survives a server restart.

    Raises ``OSError`` (server away, timeout) or ``smtplib.SMTPException`` (refused).
    """
    with connect(server) as smtp:
        smtp.send_message(message)
