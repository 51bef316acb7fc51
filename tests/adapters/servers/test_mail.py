"""The mail servers the e-mail partner's tests stand on: what goes in over SMTP comes out over IMAP."""

from __future__ import annotations

import imaplib
import smtplib
from email.message import EmailMessage

import pytest

from tests.adapters.email_partner import EmailPartner
from tests.adapters.servers.mail import MailServers, local_part


def send(servers: MailServers, to: str, subject: str, body: str = "hello", *, login: str | None = None) -> None:
    message = EmailMessage()
    message["From"] = servers.users["partner"].address
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", servers.smtp_port, timeout=10) as smtp:
        if login:
            smtp.login(login, servers.users[login].password)
        smtp.send_message(message)


def subjects(servers: MailServers, user: str) -> list[str]:
    return [str(m["Subject"]) for m in EmailPartner(servers).inbox(user)]


def test_plus_addressing_names_the_mailbox():
    assert local_part("Desk+o-Abc123@example.test") == "desk"
    assert local_part("partner@example.test") == "partner"


def test_mail_sent_over_smtp_is_read_over_imap(mail_servers: MailServers):
    send(mail_servers, "desk+o-token1@example.test", "plus-addressed to the desk")
    send(mail_servers, mail_servers.users["partner"].address, "to the partner", login="partner")
    assert "plus-addressed to the desk" in subjects(mail_servers, "desk")
    assert "to the partner" in subjects(mail_servers, "partner")
    assert "plus-addressed to the desk" not in subjects(mail_servers, "partner")


def test_an_unknown_recipient_is_refused(mail_servers: MailServers):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(mail_servers, "nobody@example.test", "lost")
    assert refused.value.recipients["nobody@example.test"][0] == 550


def test_a_wrong_imap_password_is_refused(mail_servers: MailServers):
    imap = imaplib.IMAP4("127.0.0.1", mail_servers.imap_port, timeout=10)
    try:
        with pytest.raises(imaplib.IMAP4.error):
            imap.login("desk", "not the password")
    finally:
        imap.shutdown()


def test_imap_stops_and_starts_again_with_the_mail_kept(mail_servers: MailServers):
    send(mail_servers, "desk@example.test", "kept through an outage")
    mail_servers.stop_imap()
    try:
        with pytest.raises(OSError):
            imaplib.IMAP4("127.0.0.1", mail_servers.imap_port, timeout=5)
    finally:
        mail_servers.start_imap()
    assert "kept through an outage" in subjects(mail_servers, "desk")
