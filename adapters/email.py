"""The e-mail adapter: the partner has no ticket system, only one or more e-mail addresses.

Deliveries become e-mails in one thread per engagement (``email_messages``),
sent through our own SMTP server; the partner answers the offer with signed
links (``federation.mail_links``) and its replies come back to our IMAP mailbox
(``email_replies``). What the partner can do is what an e-mail can carry: notes,
attachments, ``Time:`` lines and DONE. It keeps no charges, and an e-mail cannot
be private.
"""

from __future__ import annotations

import imaplib
import re
import smtplib
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from typing import Any, ClassVar

from flask import current_app
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from outsource_plugin.adapters.base import (
    Capability,
    ChangeBatch,
    DeliveryResult,
    EngagementRef,
    Outbound,
    PartnerAdapter,
)
from outsource_plugin.adapters.email_bounces import count_bounce
from outsource_plugin.adapters.email_messages import Thread, accepted_email, action_email, entry_email, offer_email
from outsource_plugin.adapters.email_replies import MailboxCursor, Unmatched, keep_aside, read_reply, reply_changes
from outsource_plugin.adapters.foreign import Event, Workflow, workflow_filter
from outsource_plugin.db.models import Engagement, Partner, utcnow
from outsource_plugin.errors import PermanentAdapterError, TransientAdapterError
from outsource_plugin.federation.mail_links import LinkAction, MailLink, app_key, reply_token, sign_link
from outsource_plugin.notify.smtp import Security, SmtpServer, connect
from outsource_plugin.state import current_outsource
from outsource_plugin.wire import ActionMessage, EntryMessage, OfferMessage
from outsource_plugin.workflow import Action, Status

PORT = validate.Range(min=1, max=65535)
#: replies read in one poll; the rest wait for the next
BATCH = 50
#: the statuses in which a reply becomes the partner's entries on the lead ticket
SYNCING = frozenset({Status.ACCEPTED.value, Status.IN_PROGRESS.value})
NAME = validate.Length(min=1, max=200)


class AddressList(fields.List):
    """A list of addresses, or one line of them separated by commas or spaces (as a form sends it)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if isinstance(value, str):
            value = [part for part in re.split(r"[\s,;]+", value) if part]
        return list(super()._deserialize(value, attr, data, **kwargs))


class EmailConfig(Schema):
    #: the partner's addresses: the offer goes to all of them, and only their replies are applied
    addresses = AddressList(fields.Email(), required=True, validate=validate.Length(min=1, max=20))
    #: our mailbox that receives the replies; the e-mails come from it, plus-addressed per engagement
    mailbox = fields.Email(required=True)
    smtp_host = fields.String(required=True, validate=NAME)
    smtp_port = fields.Integer(load_default=587, validate=PORT)
    smtp_security = fields.String(
        load_default=Security.STARTTLS.value, validate=validate.OneOf([s.value for s in Security])
    )
    smtp_user = fields.String(load_default="", validate=validate.Length(max=200))
    smtp_secret = fields.String(load_default="", validate=validate.Length(max=500))
    imap_host = fields.String(required=True, validate=NAME)
    imap_port = fields.Integer(load_default=993, validate=PORT)
    imap_tls = fields.Boolean(load_default=True)
    imap_user = fields.String(required=True, validate=NAME)
    imap_secret = fields.String(required=True, validate=validate.Length(min=1, max=500))
    imap_folder = fields.String(load_default="INBOX", validate=validate.Regexp(r"^[^\r\n\"]{1,200}$"))


class EmailAdapter(PartnerAdapter):
    name = "email"
    label = "A partner reached by e-mail (no ticket system)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.NOTES, Capability.ATTACHMENTS, Capability.TIME_ENTRIES}
    )
    config_schema = EmailConfig
    secret_fields: ClassVar[frozenset[str]] = frozenset({"smtp_secret", "imap_secret"})

    def __init__(self, partner_id: int, config: Any, *, timeout: float = 10.0) -> None:
        super().__init__(partner_id, EmailConfig().load(dict(config)), timeout=timeout)

    @property
    def smtp(self) -> SmtpServer:
        return SmtpServer(
            host=str(self.config["smtp_host"]),
            port=int(self.config["smtp_port"]),
            security=Security(self.config["smtp_security"]),
            user=str(self.config["smtp_user"]),
            password=str(self.config["smtp_secret"]),
            timeout=self.timeout,
        )

    def thread(self, uid: str) -> Thread:
        """The engagement's thread: its title as the lead offered it, our organisation, the addresses."""
        state = current_outsource()
        engagement = state.session.scalars(select(Engagement).where(Engagement.uid == uid)).first()
        title = str((engagement.offer or {}).get("title") or "") if engagement else ""
        return Thread(
            uid=uid,
            title=title or f"Outsourced ticket {uid[:8]}",
            org=str(state.config["OUTSOURCE_ORG_NAME"]),
            mailbox=str(self.config["mailbox"]),
            recipients=tuple(self.config["addresses"]),
            secret_key=app_key(current_app.config),
        )

    def deliver(self, message: Outbound) -> DeliveryResult:
        email = self.compose(message)
        if email is not None:
            self.send(email)
        return DeliveryResult(remote_ref=message.engagement_uid)

    def compose(self, message: Outbound) -> EmailMessage | None:
        """The e-mail that carries ``message``; None for what the partner is not told (a deleted entry).

        The e-mails that open the work (the acceptance confirmation, a reject) carry new Log time and
        Work is done links: each link works once.
        """
        thread = self.thread(message.engagement_uid)
        sent = message.message
        if isinstance(sent, OfferMessage):
            return offer_email(thread, message.message_id, sent, self.links(message.engagement_uid, sent))
        if isinstance(sent, ActionMessage) and sent.action is Action.ACCEPT:
            return accepted_email(thread, message.message_id, self.work_links(message.engagement_uid))
        if isinstance(sent, ActionMessage):
            reopened = self.work_links(message.engagement_uid) if sent.action is Action.REJECT else {}
            return action_email(thread, message.message_id, sent, reopened)
        assert isinstance(sent, EntryMessage)
        return entry_email(thread, message.message_id, sent)

    def links(self, uid: str, offer: OfferMessage) -> dict[LinkAction, str]:
        """The offer's Accept and Decline links on this host's public pages, valid until the acceptance deadline."""
        hours = float(current_outsource().config["OUTSOURCE_DEFAULT_ACCEPTANCE_HOURS"])
        expires = offer.acceptance_deadline or utcnow() + timedelta(hours=hours)
        return {action: self.link(MailLink(uid, action, expires)) for action in (LinkAction.ACCEPT, LinkAction.DECLINE)}

    def work_links(self, uid: str) -> dict[LinkAction, str]:
        """The Log time and Work is done links of the acceptance confirmation, valid OUTSOURCE_EMAIL_WORK_LINK_DAYS."""
        expires = utcnow() + timedelta(days=float(current_outsource().config["OUTSOURCE_EMAIL_WORK_LINK_DAYS"]))
        return {action: self.link(MailLink(uid, action, expires)) for action in (LinkAction.TIME, LinkAction.DONE)}

    def link(self, link: MailLink) -> str:
        """``link`` signed, as an address on this host's public pages."""
        state = current_outsource()
        base = str(state.config["OUTSOURCE_BASE_URL"]).rstrip("/")
        if not base:
            raise PermanentAdapterError("set OUTSOURCE_BASE_URL: the e-mail's links must say where this help desk is")
        token = sign_link(app_key(current_app.config), link)
        return base + state.app.url_map.bind("localhost", script_name="/").build(
            "outsource_mail_links.link_page", {"token": token}
        )

    def send(self, email: EmailMessage) -> None:
        """Hand one e-mail to our SMTP server; a refusal (5xx) is permanent, anything else worth a retry."""
        try:
            with connect(self.smtp) as smtp:
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as err:
            codes = [code for code, _ in err.recipients.values()]
            raise _smtp_error(min(codes), f"the SMTP server refused {', '.join(err.recipients)}") from err
        except smtplib.SMTPResponseException as err:
            raise _smtp_error(err.smtp_code, f"the SMTP server answered {err.smtp_code}") from err
        except (OSError, smtplib.SMTPException) as err:
            raise TransientAdapterError(f"SMTP {self.smtp.host}:{self.smtp.port}: {type(err).__name__}") from err

    def fetch_changes(self, cursor: str | None, engagements: Sequence[EngagementRef] = ()) -> ChangeBatch:
        """The replies that arrived after ``cursor`` (``<UIDVALIDITY>:<last UID>``), as notes.

        A new UIDVALIDITY (the folder was rebuilt) reads the folder from the start: replies
        already applied are the same notes again (keyed by their Message-ID), and one kept
        aside is not kept twice. An IMAP server that is away is a transient error: the
        cursor stays, and the next poll reads the same replies.
        """
        position = MailboxCursor.parse(cursor)
        tokens = {reply_token(app_key(current_app.config), e.uid): e.uid for e in engagements}
        addresses = [str(a) for a in self.config["addresses"]]
        try:
            with self.imap() as imap:
                validity, found = self.new_messages(imap, position)
        except (OSError, imaplib.IMAP4.error) as err:
            raise TransientAdapterError(f"IMAP {self.config['imap_host']}: {type(err).__name__}") from err
        events: list[Event] = []
        last = position.last if validity == position.validity else 0
        syncing = {e.uid for e in engagements if e.status in SYNCING}
        for uid, raw in found:
            last = max(last, uid)
            reply = read_reply(raw, tokens, addresses)
            if reply.unmatched is None and reply.engagement_uid not in syncing:
                reply = replace(reply, unmatched=Unmatched.SYNC_OFF)
            if reply.unmatched is not None:
                new = keep_aside(self.partner_id, reply)
                if new and reply.bounce is not None and reply.engagement_uid is not None:
                    count_bounce(self.partner_id, reply.bounce, reply.engagement_uid)
                continue
            for change in reply_changes(self.partner_name, reply):
                events.append(Event(reply.received, len(events), change.change_id, change))
        numbers = {e.uid: e.uid for e in engagements}
        changes = workflow_filter(events, Workflow(engagements), numbers)
        return ChangeBatch(changes=tuple(changes), cursor=MailboxCursor(validity, last).dump())

    def new_messages(self, imap: imaplib.IMAP4, position: MailboxCursor) -> tuple[int, list[tuple[int, bytes]]]:
        """The folder's UIDVALIDITY and its messages after the cursor (all of them under a new one)."""
        status, _ = imap.select(f'"{self.config["imap_folder"]}"', readonly=True)
        if status != "OK":
            raise PermanentAdapterError(f"IMAP folder {self.config['imap_folder']!r} cannot be opened")
        _, [validity_text] = imap.response("UIDVALIDITY")
        validity = int(validity_text or 0)
        after = position.last if validity == position.validity else 0
        _, [found] = imap.uid("SEARCH", f"UID {after + 1}:*")
        uids = sorted(int(u) for u in (found or b"").split() if int(u) > after)[:BATCH]
        messages = []
        for uid in uids:
            _, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
            raw = next((part[1] for part in data if isinstance(part, tuple)), None)
            if raw is not None:
                messages.append((uid, bytes(raw)))
        return validity, messages

    @property
    def partner_name(self) -> str:
        partner = current_outsource().session.get(Partner, self.partner_id)
        return partner.name if partner else "Partner"

    def test_connection(self) -> str:
        try:
            with connect(self.smtp) as smtp:
                smtp.noop()
        except (OSError, smtplib.SMTPException) as err:
            raise PermanentAdapterError(f"SMTP {self.smtp.host}:{self.smtp.port}: {type(err).__name__}") from err
        folder = str(self.config["imap_folder"])
        try:
            with self.imap() as imap:
                status, _ = imap.select(f'"{folder}"', readonly=True)
        except (OSError, imaplib.IMAP4.error) as err:
            raise PermanentAdapterError(f"IMAP {self.config['imap_host']}: {type(err).__name__}") from err
        if status != "OK":
            raise PermanentAdapterError(f"IMAP folder {folder!r} cannot be opened")
        return f"sent through {self.smtp.host} and read {folder} on {self.config['imap_host']}"

    def imap(self) -> imaplib.IMAP4:
        """A logged-in IMAP connection to our mailbox."""
        host, port = str(self.config["imap_host"]), int(self.config["imap_port"])
        imap = (
            imaplib.IMAP4_SSL(host, port, timeout=self.timeout)
            if self.config["imap_tls"]
            else imaplib.IMAP4(host, port, timeout=self.timeout)
        )
        try:
            imap.login(str(self.config["imap_user"]), str(self.config["imap_secret"]))
        except BaseException:
            imap.shutdown()
            raise
        return imap


def _smtp_error(code: int, message: str) -> TransientAdapterError | PermanentAdapterError:
    return PermanentAdapterError(message) if 500 <= code < 600 else TransientAdapterError(message)
