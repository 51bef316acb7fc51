"""The e-mail partner played by a test client: it reads its mailbox over IMAP, as a person's mail program does.

In the contract suite it acts only as a person with a mail program and a browser can:
accept and decline by the offer's signed links, write notes and send files by replies,
log time by a ``Time:`` line and submit by a reply starting ``DONE``.
"""

from __future__ import annotations

import html
import imaplib
import re
import smtplib
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import requests

from outsource_plugin.adapters.base import PartnerAdapter
from outsource_plugin.workflow import Action
from tests.adapters.partners import Harness, Pushed
from tests.adapters.servers.mail import MailServers


class EmailPartner(Harness):
    """The partner's people (``partner`` and ``crew``) and our mailbox (``desk``) on the real servers."""

    adapter = "email"
    has_server = True
    has_credentials = True
    #: no partner user takes a ticket: the partner is a mailbox
    can: frozenset[str] = frozenset()
    refusal = "535"
    #: what the partner does -> outsource action: the offer's two links, and a reply starting DONE
    status_map = {"accept": Action.ACCEPT, "decline": Action.DECLINE, "done": Action.SUBMIT}
    #: the subject word of the thread's last e-mail after the lead cancels, and after it approves
    canceled_status, closed_status = "Withdrawn", "Approved"

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

    def reply(
        self,
        to: EmailMessage,
        text: str,
        *,
        user: str = "partner",
        name: str = "Pat Field",
        files: dict[str, bytes] | None = None,
        html_only: bool = False,
    ) -> str:
        """Answer ``to`` from ``user``'s mail program, as a person does (quoting it); the reply's Message-ID."""
        reply = EmailMessage()
        reply["From"] = f"{name} <{self.servers.users[user].address}>"
        reply["To"] = str(to["Reply-To"])
        reply["Subject"] = f"Re: {to['Subject']}"
        reply["Date"] = formatdate(localtime=False)
        reply["Message-ID"] = make_msgid(domain="partner.example.test")
        reply["In-Reply-To"] = str(to["Message-ID"])
        reply["References"] = str(to["Message-ID"])
        quoted = "\n".join(f"> {line}" for line in text_of(to).splitlines())
        body = f"{text}\n\n-- \n{name}\nCabling Ltd\n\nOn Fri, 4 Dec 2026 at 10:00, Northwind wrote:\n{quoted}\n"
        if html_only:
            reply.set_content(f"<html><body><p>{text}</p></body></html>", subtype="html")
        else:
            reply.set_content(body)
        for filename, content in (files or {}).items():
            reply.add_attachment(content, maintype="application", subtype="octet-stream", filename=filename)
        with smtplib.SMTP("127.0.0.1", self.servers.smtp_port, timeout=10) as smtp:
            smtp.send_message(reply)
        return str(reply["Message-ID"])

    def bounce(self, sent: EmailMessage, diagnostic: str = "550 5.1.1 <partner@example.test>: mailbox unknown") -> None:
        """The partner's mail server returns ``sent`` to its sender: a delivery status notification
        (RFC 3464) with the original's headers, as Postfix writes one, handed to our SMTP server."""
        report_id = make_msgid(domain="mx.partner.example.test")
        headers = "".join(f"{name}: {value}\r\n" for name, value in sent.items())
        report = (
            "From: Mail Delivery System <MAILER-DAEMON@mx.partner.example.test>\r\n"
            f"To: {self.servers.users['desk'].address}\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            f"Message-ID: {report_id}\r\n"
            "Auto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B-1"\r\n'
            "\r\n--B-1\r\nContent-Type: text/plain\r\n\r\n"
            "I'm sorry to have to inform you that your message could not be delivered.\r\n"
            "\r\n--B-1\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.partner.example.test\r\n\r\n"
            "Final-Recipient: rfc822; partner@example.test\r\n"
            "Action: failed\r\n"
            f"Status: {diagnostic.split()[1]}\r\n"
            f"Diagnostic-Code: smtp; {diagnostic}\r\n"
            "\r\n--B-1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"{headers}"
            "\r\n--B-1--\r\n"
        )
        with smtplib.SMTP("127.0.0.1", self.servers.smtp_port, timeout=10) as smtp:
            smtp.sendmail("", [self.servers.users["desk"].address], report.encode())

    def thread(self, uid: str, user: str = "partner") -> list[EmailMessage]:
        """The e-mails of one engagement that reached ``user``, oldest first."""
        return [m for m in self.inbox(user) if uid in str(m["Message-ID"]) or uid in str(m["References"] or "")]

    def offer(self, uid: str) -> EmailMessage:
        return self.thread(uid)[0]

    def subject(self, adapter: PartnerAdapter, ref: str) -> tuple[str, str]:
        """The offer's title (its subject without ``Offer:`` and the number) and its text."""
        offer = self.offer(ref)
        title = re.sub(r"^Offer: |\s*\[[^]]*\]$", "", str(offer["Subject"]))
        return title, text_of(offer)

    def pushed(self, adapter: PartnerAdapter, ref: str) -> Pushed:
        """What the thread after the offer says, each Message-ID once: a mail program shows a resent e-mail once."""
        out = Pushed([], [], {})
        seen = set()
        for message in self.thread(ref)[1:]:
            if message["Message-ID"] in seen:
                continue
            seen.add(message["Message-ID"])
            out.notes.append(text_of(message))
            for part in message.iter_attachments():
                content = part.get_payload(decode=True)
                assert isinstance(content, bytes)
                out.attachments[str(part.get_filename())] = content
        return out

    def note(self, adapter: PartnerAdapter, uid: str, ref: str, text: str) -> None:
        self.reply(self.offer(uid), text)

    def note_times(self, adapter: PartnerAdapter, ref: str, *texts: str) -> list[str]:
        """The Date of the partner's replies that start with these texts, as they reached our mailbox."""
        replies = [m for m in self.inbox("desk") if ref in str(m["References"] or "")]
        return [
            next(m["Date"].datetime.isoformat() for m in replies if text_of(m).splitlines()[0] == text)
            for text in texts
        ]

    def time(self, adapter: PartnerAdapter, uid: str, ref: str, hours: float, summary: str) -> None:
        self.reply(self.offer(uid), f"Time: {hours}h {summary}")

    def attach(self, adapter: PartnerAdapter, uid: str, ref: str, filename: str, data: bytes) -> None:
        self.reply(self.offer(uid), f"Attached {filename}", files={filename: data})

    def set_status(self, adapter: PartnerAdapter, uid: str, ref: str, status: str, note: str = "") -> None:
        """Accept or decline by the offer's link (a decline says why); submit by a reply starting DONE."""
        if status == "done":
            self.reply(self.offer(uid), f"DONE {note}".strip())
            return
        reason = (note or "not for us") if status == "decline" else None
        opened = answer(links(self.offer(uid))[status], reason)
        assert opened.status_code == 200, (status, opened.status_code, opened.text)

    def status_of(self, adapter: PartnerAdapter, ref: str) -> str:
        """The subject word of the thread's last e-mail: where the partner reads how things stand."""
        return str(self.thread(ref)[-1]["Subject"]).partition(":")[0]

    def stop(self) -> None:
        self.servers.stop()

    def start(self) -> None:
        self.servers.start()


def links(offer: EmailMessage) -> dict[str, str]:
    """An e-mail's links by action: ``{"accept": url, "decline": url}`` in the offer, ``{"done": url}`` later."""
    found = re.findall(r"^(Accept|Decline) the offer: (\S+)\s*$", text_of(offer), re.MULTILINE)
    later = re.findall(r"^(Work is done|Log time): (\S+)\s*$", text_of(offer), re.MULTILINE)
    found += [("done" if action == "Work is done" else "time", url) for action, url in later]
    return {action.lower(): url for action, url in found}


def answer(link: str, reason: str | None = None, **fields: str) -> requests.Response:
    """Open a link as the partner's browser does and send its form; the page itself when it refuses."""
    with requests.Session() as browser:
        page = browser.get(link, timeout=10)
        if page.status_code != 200:
            return page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text
        form = {"csrf_token": html.unescape(token.group(1)), **fields}
        entry = re.search(r'name="entry" value="([^"]+)"', page.text)
        if entry:
            form["entry"] = entry.group(1)
        if reason is not None:
            form["reason"] = reason
        return browser.post(link, data=form, timeout=10)


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
