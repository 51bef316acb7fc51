"""Reading the partner's replies: which engagement an e-mail answers, who wrote it, and what it says.

A reply finds its engagement by the reply token in the address it was sent to
(``desk+o-<token>@...``), or else by the offer's ``Message-ID`` in its
``References``; it is applied only when its sender is one of the partner's
addresses. Quoted history and signatures are cut with mail-parser-reply, and
an HTML-only reply becomes its text (tags dropped, never rendered).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from enum import Enum

from mailparser_reply import EmailReplyParser
from sqlalchemy import select

from outsource_plugin.adapters.base import ChangeKind, RemoteChange
from outsource_plugin.adapters.email_bounces import Bounce, bounced_engagement, read_bounce
from outsource_plugin.adapters.email_messages import TAG
from outsource_plugin.adapters.foreign import attachment_data
from outsource_plugin.db.models import UnmatchedMail
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.state import current_outsource
from outsource_plugin.wire import EntryMessage, Origin, WireOp
from outsource_plugin.workflow import Action, Side

#: the language of the quote headers ("On ... wrote:") cut from replies
LANGUAGES = ["en", "de", "fr", "es", "it", "nl"]
#: a reply line that logs the partner's time: ``Time: 1.5h Diagnosis`` (``1,5 h``, ``2 hours`` too)
TIME_LINE = re.compile(r"^\s*time:\s*(\d{1,3}(?:[.,]\d{1,2})?)\s*h(?:ours?|rs?)?\b[\s:,-]*(.*)$", re.IGNORECASE)
#: a reply whose first word is DONE submits the work for approval
DONE = re.compile(r"^\s*DONE\b[\s:.,!-]*", re.IGNORECASE)
#: where the reply's own words end: a quote, a signature, or the line that introduces a quote
QUOTE_START = re.compile(r"^(>|-- ?$|_{5,}|-{5,}|On .* wrote:\s*$)")
_TAGS = re.compile(r"<[^>]*>")
_BLOCKS = re.compile(r"</?(p|div|br|li|tr|h[1-6])\b[^>]*>", re.IGNORECASE)
_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


class Unmatched(str, Enum):
    """Why a reply was kept aside instead of applied."""

    NO_ENGAGEMENT = "it answers no open engagement with this partner"
    STRANGER = "its sender is not one of the partner's addresses"
    SYNC_OFF = "it arrived while nothing syncs (before acceptance, waiting approval)"
    BOUNCE = "it reports that our e-mail could not be delivered"


@dataclass(frozen=True)
class Reply:
    """One e-mail read from our mailbox, with what matching it found."""

    message_id: str
    sender_name: str
    sender: str
    subject: str
    received: datetime
    text: str
    files: tuple[dict[str, object], ...]
    #: ``(hours, summary)`` of each ``Time:`` line
    times: tuple[tuple[str, str], ...]
    #: the reply said DONE: the partner submits the work
    done: bool
    engagement_uid: str | None
    unmatched: Unmatched | None
    #: the e-mail is a mail server's report that one of ours bounced
    bounce: Bounce | None = None

    @property
    def author(self) -> str:
        """``Name <address>``, as the note's author shows it."""
        return f"{self.sender_name} <{self.sender}>" if self.sender_name else self.sender

    @property
    def key(self) -> str:
        """The note's entry key: from the Message-ID, so the same e-mail read twice is one note."""
        return "service:note:mail-" + hashlib.sha256(self.message_id.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class MailboxCursor:
    """Where the next poll resumes: the folder's UIDVALIDITY and the last UID read."""

    validity: int = 0
    last: int = 0

    @classmethod
    def parse(cls, text: str | None) -> MailboxCursor:
        validity, _, last = (text or "").partition(":")
        return cls(int(validity), int(last)) if validity.isdigit() and last.isdigit() else cls()

    def dump(self) -> str:
        return f"{self.validity}:{self.last}"


def reply_changes(partner_name: str, reply: Reply) -> list[RemoteChange]:
    """The reply's note, its time entries and its files as the partner's entries; then its DONE."""
    uid = reply.engagement_uid
    assert uid is not None
    origin = Origin(Side.SERVICE, partner_name, reply.author, reply.received.isoformat())
    entries = []
    if reply.text:
        entries.append(EntryMessage(reply.key, WireOp.UPSERT, EntryKind.NOTE, {"text": reply.text}, origin))
    for number, (hours, summary) in enumerate(reply.times, start=1):
        data = {"work_date": reply.received.date().isoformat(), "hours": hours, "summary": summary}
        data["resource"] = reply.author
        entries.append(EntryMessage(_key(reply, EntryKind.TIME, number), WireOp.UPSERT, EntryKind.TIME, data, origin))
    for number, file in enumerate(reply.files, start=1):
        key = _key(reply, EntryKind.ATTACHMENT, number)
        entries.append(EntryMessage(key, WireOp.UPSERT, EntryKind.ATTACHMENT, file, origin))
    changes = [RemoteChange(ChangeKind.ENTRY, uid, e.entry_key, data=e.to_wire()) for e in entries]
    if reply.done:
        done_key = f"{reply.key}:done"
        changes.append(RemoteChange(ChangeKind.ACTION, uid, done_key, action=Action.SUBMIT, actor=reply.author))
    return changes


def _key(reply: Reply, kind: EntryKind, number: int) -> str:
    return reply.key.replace(":note:", f":{kind.value}:") + f"-{number}"


def keep_aside(partner_id: int, reply: Reply) -> bool:
    """Keep a reply that is not applied, with its reason, once (the poll's commit writes it); whether it is new."""
    session = current_outsource().session
    known = select(UnmatchedMail.id).where(
        UnmatchedMail.partner_id == partner_id, UnmatchedMail.message_id == reply.message_id[:300]
    )
    if session.scalars(known).first() is not None:
        return False
    reason = reply.unmatched or Unmatched.NO_ENGAGEMENT
    session.add(
        UnmatchedMail(
            partner_id=partner_id,
            message_id=reply.message_id[:300],
            sender=reply.sender[:320],
            subject=reply.subject[:300],
            reason=reason.value,
            engagement_uid=reply.engagement_uid,
        )
    )
    return True


def read_reply(raw: bytes, tokens: Mapping[str, str], addresses: Sequence[str]) -> Reply:
    """``tokens`` maps each open engagement's reply token to its uid; ``addresses`` are the partner's."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    name, sender = parseaddr(str(message.get("From") or ""))
    uid = _engagement(message, tokens)
    bounce = read_bounce(message)
    unmatched = None
    if bounce is not None:
        uid, unmatched = bounced_engagement(bounce, tokens.values()), Unmatched.BOUNCE
    elif uid is None:
        unmatched = Unmatched.NO_ENGAGEMENT
    elif sender.lower() not in {a.lower() for a in addresses}:
        unmatched = Unmatched.STRANGER
    message_id = str(message.get("Message-ID") or "").strip() or "<sha256." + hashlib.sha256(raw).hexdigest() + ">"
    text, times, done = _work(*_text(message))
    return Reply(
        message_id=message_id,
        sender_name=name.strip(),
        sender=sender,
        subject=str(message.get("Subject") or ""),
        received=_date(message),
        text=text,
        files=tuple(_files(message)),
        times=times,
        done=done,
        engagement_uid=uid,
        unmatched=unmatched,
        bounce=bounce,
    )


def _work(text: str, body: str) -> tuple[str, tuple[tuple[str, str], ...], bool]:
    """The note's text without ``Time:`` lines and a leading DONE; the times; whether it said DONE.

    The times are read from the body above the quoted history and the signature, not from
    the parsed reply: the parser may take a ``Time:`` line for the header of a quote.
    """
    done = bool(DONE.match(text))
    if done:
        text = DONE.sub("", text, count=1)
    times = []
    for line in body.splitlines():
        if QUOTE_START.match(line):
            break
        found = TIME_LINE.match(line)
        if found:
            times.append((found.group(1).replace(",", "."), found.group(2).strip()))
    kept = [line for line in text.splitlines() if not TIME_LINE.match(line)]
    return "\n".join(kept).strip(), tuple(times), done


def _engagement(message: EmailMessage, tokens: Mapping[str, str]) -> str | None:
    recipients = getaddresses([str(v) for h in ("To", "Cc", "Delivered-To") for v in message.get_all(h, [])])
    for _, address in recipients:
        local = address.rpartition("@")[0].lower()
        _, plus, tag = local.partition("+")
        if plus and tag.startswith(TAG) and tag[len(TAG) :] in tokens:
            return tokens[tag[len(TAG) :]]
    references = " ".join(str(message.get(h) or "") for h in ("In-Reply-To", "References"))
    for uid in tokens.values():
        if f"<offer.{uid}@" in references:
            return uid
    return None


def _date(message: EmailMessage) -> datetime:
    try:
        when = parsedate_to_datetime(str(message.get("Date")))
    except (TypeError, ValueError):
        return datetime.now(timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _text(message: EmailMessage) -> tuple[str, str]:
    """The reply's own words (quotes and signature cut) and its whole body as text: the plain part,
    else the HTML part as text."""
    part = message.get_body(("plain", "html"))
    if part is None:
        return "", ""
    body = str(part.get_content())
    if part.get_content_subtype() == "html":
        body = html.unescape(_TAGS.sub("", _BLOCKS.sub("\n", _HIDDEN.sub("", body))))
    replies = EmailReplyParser(languages=LANGUAGES).read(text=body).replies
    return (replies[0].body if replies else body).strip(), body


def _files(message: EmailMessage) -> list[dict[str, object]]:
    found = []
    for part in message.iter_attachments():
        content = part.get_payload(decode=True)
        if isinstance(content, bytes):
            found.append(attachment_data(part.get_filename() or "attachment", part.get_content_type(), content))
    return found
