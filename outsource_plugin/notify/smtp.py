"""Hand one queued e-mail to the SMTP server: plain text with an HTML alternative, standard library only."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from outsource_plugin.db.models import MailMessage


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
    """One connection per message: mail is rare, and a fresh connection survives a server restart.

    Raises ``OSError`` (server away, timeout) or ``smtplib.SMTPException`` (refused).
    """
    host, port = str(config["OUTSOURCE_MAIL_SERVER"]), int(config["OUTSOURCE_MAIL_PORT"])
    timeout = float(config["OUTSOURCE_MAIL_TIMEOUT"])
    tls = ssl.create_default_context()
    smtp = (
        smtplib.SMTP_SSL(host, port, timeout=timeout, context=tls)
        if config["OUTSOURCE_MAIL_USE_TLS"]
        else smtplib.SMTP(host, port, timeout=timeout)
    )
    with smtp:
        if config["OUTSOURCE_MAIL_STARTTLS"]:
            smtp.starttls(context=tls)
        if config["OUTSOURCE_MAIL_USERNAME"]:
            smtp.login(str(config["OUTSOURCE_MAIL_USERNAME"]), str(config["OUTSOURCE_MAIL_PASSWORD"]))
        smtp.send_message(message)
