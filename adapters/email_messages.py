"""The e-mails an e-mail partner receives: the offer, the lead's actions and the lead's public entries.

Every e-mail of one engagement is one thread: the offer's ``Message-ID`` is
made from the engagement, every later e-mail names it in ``In-Reply-To`` and
``References``, and each carries a ``Reply-To`` plus-addressed with the
engagement's reply token, which only this host can make (an HMAC of the
engagement under the app's secret key), so a reply finds its engagement and a
stranger cannot make one up.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any

from outsource_plugin.adapters.foreign import entry_text, offer_text
from outsource_plugin.federation.mail_links import LinkAction, reply_token
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.wire import ActionMessage, EntryMessage, OfferMessage, WireOp
from outsource_plugin.workflow import Action

#: the plus-address tag before the engagement's reply token: ``desk+o-<token>@example.com``
TAG = "o-"
#: what the lead's actions are called in a subject
ACTION_SUBJECTS = {
    Action.CANCEL: "Withdrawn",
    Action.AUTO_DECLINE: "Withdrawn (not accepted in time)",
    Action.APPROVE: "Approved",
    Action.REJECT: "Not approved yet",
    Action.COMPLETE: "Closed",
    Action.TICKET_COMPLETE: "Closed",
}
SUBJECT_LIMIT = 200
_LINE_BREAKS = re.compile(r"[\r\n\t\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Thread:
    """Who writes to whom about one engagement, and what the thread is called."""

    uid: str
    title: str
    org: str
    mailbox: str
    recipients: Sequence[str]
    secret_key: bytes

    @property
    def domain(self) -> str:
        return self.mailbox.rpartition("@")[2]

    @property
    def root_id(self) -> str:
        return f"<offer.{self.uid}@{self.domain}>"

    @property
    def reply_to(self) -> str:
        local, _, domain = self.mailbox.rpartition("@")
        return f"{local}+{TAG}{reply_token(self.secret_key, self.uid)}@{domain}"

    def message(self, message_id: str, subject: str, body: str, *, first: bool = False) -> EmailMessage:
        """One e-mail of the thread; ``message_id`` (the outbox message's) makes a retry send the same id."""
        email = EmailMessage()
        email["Subject"] = one_line(subject)
        email["From"] = formataddr((one_line(self.org), self.mailbox))
        email["To"] = ", ".join(self.recipients)
        email["Reply-To"] = self.reply_to
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = self.root_id if first else f"<{message_id}.{self.uid}@{self.domain}>"
        if not first:
            email["In-Reply-To"] = self.root_id
            email["References"] = self.root_id
        email.set_content(body)
        return email


def one_line(text: str) -> str:
    """A header value with no line break or control character (no header injection), within a limit."""
    return _LINE_BREAKS.sub(" ", text).strip()[:SUBJECT_LIMIT]


def offer_email(thread: Thread, message_id: str, offer: OfferMessage, links: Mapping[LinkAction, str]) -> EmailMessage:
    """The offer with its two one-time links; they work until the acceptance deadline."""
    number = offer.ticket_number or offer.offer.get("number")
    subject = f"Offer: {thread.title}" + (f" [{number}]" if number else "")
    body = "\n".join(
        [
            f"{thread.org} offers you this ticket.",
            "",
            f"Title: {thread.title}",
            "",
            offer_text(offer, "").strip(),
            "",
            f"Accept the offer: {links[LinkAction.ACCEPT]}",
            f"Decline the offer: {links[LinkAction.DECLINE]}",
            "",
            "Each link works once, until the acceptance deadline.",
            "Reply to this e-mail to write to us; your reply reaches the ticket.",
        ]
    )
    return thread.message(message_id, subject, body, first=True)


def work_lines(links: Mapping[LinkAction, str]) -> list[str]:
    """The Log time and Work is done links, and how to use them and the replies."""
    return [
        f"Log time: {links[LinkAction.TIME]}",
        f"Work is done: {links[LinkAction.DONE]}",
        "",
        "Each link works once: Log time for your time so far, Work is done when it is done (we approve it).",
        "Reply to this e-mail to write to us; a line 'Time: 1.5h what you did' logs your time.",
    ]


def accepted_email(thread: Thread, message_id: str, links: Mapping[LinkAction, str]) -> EmailMessage:
    """The partner's acceptance confirmed, with the links that log time and submit the work when it is done."""
    body = "\n".join([f"{thread.org}: thank you, you accepted this ticket.", "", *work_lines(links)])
    return thread.message(message_id, f"Accepted: {thread.title}", body)


def action_email(
    thread: Thread, message_id: str, action: ActionMessage, links: Mapping[LinkAction, str] | None = None
) -> EmailMessage:
    """The lead's action; ``links`` when it reopens the work (a reject): the ones used before work no more."""
    word = ACTION_SUBJECTS.get(action.action, action.action.value.replace("_", " ").capitalize())
    lines = [f"{thread.org}: {word.lower()}."]
    if action.action in (Action.CANCEL, Action.AUTO_DECLINE):
        lines.append("The offer is withdrawn: please do not start the work.")
    if action.reason:
        lines += ["", f"Reason: {action.reason}"]
    if links:
        lines += ["", *work_lines(links)]
    return thread.message(message_id, f"{word}: {thread.title}", "\n".join(lines))


def entry_email(thread: Thread, message_id: str, entry: EntryMessage) -> EmailMessage | None:
    """A note, a time entry or a charge as text; an attachment as the file itself. A delete sends nothing."""
    if entry.op is not WireOp.UPSERT:
        return None
    data: Mapping[str, Any] = entry.data
    if entry.entry_kind is EntryKind.ATTACHMENT:
        filename = str(data.get("filename") or "attachment")
        email = thread.message(message_id, f"Re: {thread.title}", f"{one_line(filename)} is attached.")
        maintype, _, subtype = str(data.get("media_type") or "application/octet-stream").partition("/")
        content = base64.b64decode(str(data.get("data") or ""))
        email.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
        return email
    return thread.message(message_id, f"Re: {thread.title}", entry_text(entry, edited=False))
