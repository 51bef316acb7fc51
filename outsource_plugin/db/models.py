"""The plugin's own tables, all prefixed ``outsource_``.

They use a declarative base of their own rather than the host's ``db.Model``
so that mounting the plugin never touches the host's metadata, yet they are
written through the host's Flask-SQLAlchemy session: a host change and the
plugin rows it causes commit (or roll back) together.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from outsource_plugin.db.secretbox import seal, seal_text, unseal, unseal_text
from outsource_plugin.host.entries import EntryKind, from_wire
from outsource_plugin.wire import MessageKind
from outsource_plugin.workflow import OPEN_STATUSES, Action, Side, Status


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


def new_ids(count: int) -> list[str]:
    """``count`` outbox message ids: version 7 UUIDs (RFC 9562) as 32 hex digits, made together.

    They lead with the time in ms, so the unique index on them is appended to. With random
    (version 4) ids each row of a bulk write went into a random page of an index as large as
    the outbox. Their random part comes from one read of the OS's randomness: a UUID object
    per row was a twentieth of capture's time.
    """
    stamp = f"{time.time_ns() // 1_000_000:012x}"
    raw = bytearray(os.urandom(10 * count))
    raw[0::10] = bytes(byte & 0x0F | 0x70 for byte in raw[0::10])  # the version, 7
    raw[2::10] = bytes(byte & 0x3F | 0x80 for byte in raw[2::10])  # the variant, RFC 4122
    digits = raw.hex()
    return [stamp + digits[start : start + 20] for start in range(0, 20 * count, 20)]


def new_message_id() -> str:
    """One outbox message id, as ``new_ids`` makes them."""
    return new_ids(1)[0]


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def _enum(cls: type, name: str) -> SAEnum:
    return SAEnum(cls, name=name, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware on every backend: SQLite drops tzinfo, so UTC is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Partner(Base):
    """An organisation we outsource to or take tickets in from."""

    __tablename__ = "outsource_partner"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    adapter: Mapped[str] = mapped_column(String(64))
    #: the settings as stored: secrets encrypted (``outsource_plugin.db.secretbox``); read ``config``
    stored_config: Mapped[dict[str, Any]] = mapped_column("config", JSON, default=dict)
    default_terms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: the host customer this partner is invoiced as when it outsources to us
    customer_ref: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: our mailbox for this partner's offers: a new offer from it (and its cancel before a ticket
    #: was opened) is e-mailed here when mail is on (``outsource_plugin.notify``)
    notify_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: names this partnership in signed partner requests (both hosts store the same value)
    link_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: the last sequence number given to a message for this partner
    outbound_seq: Mapped[int] = mapped_column(Integer, default=0)
    #: where the last poll of the partner's change feed stopped
    poll_cursor: Mapped[str | None] = mapped_column(String(200))
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_poll_error: Mapped[str | None] = mapped_column(Text)
    #: failed polls since the last good one, and when the poll job next asks the partner while it
    #: backs off (``sync.poll_backoff``); in the row, so every worker agrees and a restart keeps it
    poll_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    poll_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: why the partnership ended, in the words of the side that ended it (ours or the partner's)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    #: when the partner told us it ended the partnership; unset when we ended it ourselves
    disabled_by_partner_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: a leave notice is owed to the partner, next tried at this time (``jobs.leave``)
    leave_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    leave_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    leave_error: Mapped[str | None] = mapped_column(Text)

    engagements: Mapped[list[Engagement]] = relationship(back_populates="partner", lazy="raise_on_sql")

    @property
    def config(self) -> dict[str, Any]:
        """The adapter settings in plaintext; the database only ever sees the secrets encrypted."""
        return unseal(self.stored_config or {})

    @config.setter
    def config(self, value: dict[str, Any]) -> None:
        self.stored_config = seal(value)


class InvitationState(str, Enum):
    INVITED = "invited"
    JOINED = "joined"
    REVOKED = "revoked"
    #: too many failed join attempts: a guessed token cannot be tried further
    LOCKED = "locked"


class Invitation(Base):
    """An invitation to become partners, until the other side joins with its code.

    The token is stored only as its SHA-256 and the private key only encrypted, so
    the table alone lets no one join (``outsource_plugin.federation.handshake``).
    """

    __tablename__ = "outsource_invitation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: named in the code and in the join request; becomes the partnership's link id
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    default_terms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sealed_key: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[InvitationState] = mapped_column(
        _enum(InvitationState, "outsource_invitation_state"), default=InvitationState.INVITED
    )
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("outsource_partner.id"))

    @property
    def private_key(self) -> str:
        """The X25519 private key, base64; the database only sees it encrypted."""
        return unseal_text(self.sealed_key)

    @private_key.setter
    def private_key(self, value: str) -> None:
        self.sealed_key = seal_text(value)


#: Status -> the Engagement column that records when it was entered.
STATUS_TIMESTAMP = {
    Status.UNSENT: "unsent_at",
    Status.ASSIGNED: "assigned_at",
    Status.CANCELED: "canceled_at",
    Status.DECLINED: "declined_at",
    Status.ACCEPTED: "accepted_at",
    Status.IN_PROGRESS: "in_progress_at",
    Status.WAITING_APPROVAL: "waiting_approval_at",
    Status.COMPLETE: "completed_at",
}


#: the rows a ticket may have only one of per role: its open engagements (SPEC: at most one)
OPEN_ENGAGEMENT = text(f"status IN ({', '.join(repr(s.value) for s in sorted(OPEN_STATUSES))})")


class Engagement(Base):
    """One outsourcing attempt, seen from this host's side (``role``)."""

    __tablename__ = "outsource_engagement"
    __table_args__ = (
        # one per sort order of the dashboard, so that a folder's page is an index range scan
        Index("ix_outsource_engagement_folder", "role", "status", "updated_at", "id"),
        Index("ix_outsource_engagement_folder_created", "role", "status", "created_at", "id"),
        Index("ix_outsource_engagement_ticket", "ticket_id", "role", "id"),
        Index("ix_outsource_engagement_partner", "partner_id", "status"),
        Index("ix_outsource_engagement_deadline", "status", "acceptance_deadline"),
        # in the database too, not only in code: two configures at once cannot both insert
        Index(
            "uq_outsource_engagement_open_ticket",
            "ticket_id",
            "role",
            unique=True,
            postgresql_where=OPEN_ENGAGEMENT,
            sqlite_where=OPEN_ENGAGEMENT,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: stable id shared with the partner: the lead mints it, the service side keeps it
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    role: Mapped[Side] = mapped_column(_enum(Side, "outsource_side"))
    ticket_id: Mapped[str | None] = mapped_column(String(64))
    #: the host deleted the ticket this engagement belonged to: ``ticket_id`` is cleared, so that a new
    #: ticket the host gives the same id never finds it, and the old id is kept here for the record
    deleted_ticket_id: Mapped[str | None] = mapped_column(String(64))
    ticket_number: Mapped[str | None] = mapped_column(String(64))
    partner_id: Mapped[int] = mapped_column(ForeignKey("outsource_partner.id"))
    status: Mapped[Status] = mapped_column(_enum(Status, "outsource_status"))
    terms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    frozen_terms: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: what the lead sent: title, description, priority, due date, contact
    offer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    remote_ref: Mapped[str | None] = mapped_column(String(128))
    remote_ticket_number: Mapped[str | None] = mapped_column(String(128))
    acceptance_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_by: Mapped[str | None] = mapped_column(String(200))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    unsent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    in_progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    waiting_approval_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sync_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the feed number of our latest own act that suspended or ended sync (submit, approve,
    #: complete, the completion cascade): the partner's entries made before it saw that act stay out
    boundary_seq: Mapped[int | None] = mapped_column(Integer)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    #: the host's id of the "Outsourcing cost" charge added at completion (lead only): a
    #: financial figure, which hosts hide below Allow All (``costs.is_cost_charge``)
    cost_charge_id: Mapped[str | None] = mapped_column(String(64))
    #: when a relayed act of the partner lost a crossing here (``workflow.CROSSED``): what the
    #: partner wrote after it, on its losing branch, is not applied here
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    partner: Mapped[Partner] = relationship(back_populates="engagements", lazy="joined")

    @property
    def is_open(self) -> bool:
        from outsource_plugin.workflow import OPEN_STATUSES

        return self.status in OPEN_STATUSES

    @property
    def effective_terms(self) -> dict[str, Any]:
        return self.frozen_terms if self.frozen_terms is not None else self.terms


class StatusCount(Base):
    """A change in how many engagements hold one (role, status): the count is the sum of the rows.

    Each status change adds its rows in its own transaction (``core.status_counts``), so
    the dashboard sums a few rows instead of counting a million engagements, and two
    transitions never wait on one shared counter row. A job folds the rows into one per key.
    """

    __tablename__ = "outsource_status_count"
    __table_args__ = (Index("ix_outsource_status_count_key", "role", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[Side] = mapped_column(_enum(Side, "outsource_side"))
    status: Mapped[Status] = mapped_column(_enum(Status, "outsource_status"))
    amount: Mapped[int] = mapped_column(Integer)


class AuditEvent(Base):
    """Who moved which engagement from what to what, when and why."""

    __tablename__ = "outsource_audit_event"
    __table_args__ = (Index("ix_outsource_audit_engagement", "engagement_uid", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the uid, not a foreign key: history outlives a removed Unsent engagement
    engagement_uid: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[str | None] = mapped_column(String(64), index=True)
    #: as on the engagement: the ticket was deleted, so its id no longer finds this history
    deleted_ticket_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    side: Mapped[Side] = mapped_column(_enum(Side, "outsource_side"))
    action: Mapped[Action] = mapped_column(_enum(Action, "outsource_action"))
    from_status: Mapped[Status | None] = mapped_column(_enum(Status, "outsource_status"))
    to_status: Mapped[Status | None] = mapped_column(_enum(Status, "outsource_status"))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MessageState(str, Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class Leased:
    """The columns of a queued row sent by a job: its state, its retries, and the worker leasing it."""

    state: Mapped[MessageState] = mapped_column(
        _enum(MessageState, "outsource_message_state"), default=MessageState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Leased, Base):
    """A change owed to a partner, written in the transaction that caused it."""

    __tablename__ = "outsource_outbox"
    __table_args__ = (
        Index("ix_outsource_outbox_due", "state", "next_attempt_at", "id"),
        Index("ix_outsource_outbox_engagement", "engagement_uid", "id"),
        Index("ix_outsource_outbox_feed", "partner_id", "seq", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: idempotency key: the receiver applies a message id once
    message_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_message_id)
    partner_id: Mapped[int] = mapped_column(ForeignKey("outsource_partner.id"))
    #: this message's place in the partner's feed: 1, 2, 3, ... with no gaps
    seq: Mapped[int] = mapped_column(Integer)
    engagement_uid: Mapped[str] = mapped_column(String(32))
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind, "outsource_message_kind"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MailMessage(Leased, Base):
    """An e-mail owed to a person, written in the transaction whose change it announces.

    Rendered when queued, so a retry sends the same message (with the same
    ``Message-ID``); sent after the commit by ``jobs.mail``, retried with backoff
    while the mail server is away.
    """

    __tablename__ = "outsource_mail"
    __table_args__ = (Index("ix_outsource_mail_due", "state", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: what it announces: offer, accept, decline, auto_decline, submit, question, reject, cancel
    event: Mapped[str] = mapped_column(String(32))
    engagement_uid: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EntryLink(Base):
    """One synced entry for its whole life: the same entry's id on this host, and its owner.

    ``entry_key`` names the entry on both hosts alike (owner side, kind, the
    owner's id and a token of this life), so an edit or delete finds its copy
    and a repeated delivery finds the copy it already made. Hosts reuse the id
    of a deleted entry, so the id alone names no entry for good: a link is
    retired (``deleted``) when its entry is deleted here, only live links are
    looked up by ``local_id``, and a new entry on a reused id gets a new link
    and a new key. Keys made before the life token (``side:kind:id``) stay valid.
    """

    __tablename__ = "outsource_entry_link"
    __table_args__ = (
        Index("ix_outsource_entry_link_key", "engagement_uid", "entry_key", unique=True),
        Index("ix_outsource_entry_link_local", "kind", "local_id"),
        # the header badge counts the partner's questions on every page: these links alone, not every link
        Index(
            "ix_outsource_entry_link_question",
            "engagement_uid",
            postgresql_where=text("question"),
            sqlite_where=text("question"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    engagement_uid: Mapped[str] = mapped_column(String(32))
    entry_key: Mapped[str] = mapped_column(String(128))
    #: the host's entry kind here (a lead's time entry arrives at the partner as a note)
    kind: Mapped[str] = mapped_column(String(16))
    local_id: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[Side] = mapped_column(_enum(Side, "outsource_side"))
    #: added while sync was suspended: never crosses, not even after it resumes
    in_suspension: Mapped[bool] = mapped_column(Boolean, default=False)
    #: our entries: the feed number of the first message that carried it to the partner; a partner
    #: act that suspends or ends sync without having read that far makes it a suspension-window entry
    first_seq: Mapped[int | None] = mapped_column(Integer)
    #: the other side has (or is owed) a copy
    sent: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: a service partner's question to us (a note it asked as one): listed on the lead's "Outsourced work"
    question: Mapped[bool] = mapped_column(Boolean, default=False)
    #: a partner's entry: who made it there and when, as the partner said (None for our own entries)
    origin_user: Mapped[str | None] = mapped_column(String(200))
    origin_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: a partner's entry held on our side, never written to the host's rows (``host.privacy``): its
    #: values in wire form, of its own kind (a held time entry stays one); None for the rest
    held: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def held_values(self) -> dict[str, Any] | None:
        """The held entry's values as Python values; None when the entry is not held."""
        return None if self.held is None else from_wire(EntryKind(self.kind), self.held)


class SeenRequest(Base):
    """Request ids of signed partner requests already taken: a second use is a replay."""

    __tablename__ = "outsource_seen_request"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class UnmatchedMail(Base):
    """An e-mail in an e-mail partner's reply mailbox that was not applied, and why: kept for the
    partner manager (a stranger's mail, or one that answers no open engagement)."""

    __tablename__ = "outsource_unmatched_mail"
    __table_args__ = (UniqueConstraint("partner_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("outsource_partner.id"))
    message_id: Mapped[str] = mapped_column(String(300))
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(String(200))
    engagement_uid: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MailLinkUse(Base):
    """An e-mail link that was used: a link works once, so a second use (a replay, a forwarded
    e-mail, a Work is done link after a reject reopened the work) is refused."""

    __tablename__ = "outsource_mail_link_use"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: SHA-256 of the signed link, hex: the link itself is a credential and is not stored
    link_hash: Mapped[str] = mapped_column(String(64), unique=True)
    engagement_uid: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(16))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
