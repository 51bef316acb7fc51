"""A plain help desk: its replies have no internal flag, their authors are user ids, and time is
kept as hours on the replies (no time model). Its files have a private flag.

The host tests map it in-process; the sync tests mount it as a Flask app (``tests/outsource_plugin/sync/plain_app.py``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from outsource_plugin import EntryKind, EntryMap, Field, Permission, SQLAlchemyHost
from outsource_plugin.host.fields import FieldSpec

#: the user the host writes as when no one of its own wrote a reply
SYSTEM_USER_ID = 1


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "plain_person"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Issue(Base):
    __tablename__ = "plain_issue"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32), default="Open")


class Reply(Base):
    """Everything on a reply is public: the requester reads every one."""

    __tablename__ = "plain_reply"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("plain_issue.id"))
    body: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("plain_person.id"), default=SYSTEM_USER_ID)
    hours: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    user: Mapped[Person] = relationship()


class Upload(Base):
    __tablename__ = "plain_upload"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("plain_issue.id"))
    name: Mapped[str] = mapped_column(String(200))
    private: Mapped[bool] = mapped_column(Boolean, default=False)


class Expense(Base):
    __tablename__ = "plain_expense"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("plain_issue.id"))
    label: Mapped[str] = mapped_column(String(200))
    qty: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal(1))
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal(0))
    cost: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal(0))


#: the author is a user id: read as the user's name, written as the system user
AUTHOR = Field(read=lambda reply: reply.user.name, write=lambda reply, name: setattr(reply, "user_id", SYSTEM_USER_ID))

REPLY_FIELDS: dict[str, FieldSpec] = {"text": "body", "author": AUTHOR, "hours": "hours"}


def plain_host(db: Any, *, partner_entries: str | None, current_user: Any = lambda: None) -> SQLAlchemyHost:
    return SQLAlchemyHost(
        db,
        ticket_model=Issue,
        ticket_fields={"customer": None, "contact": None, "priority": None, "due": None},
        current_user=current_user,
        permission=lambda user: Permission(user.level),
        entries={
            EntryKind.NOTE: EntryMap(Reply, REPLY_FIELDS),
            EntryKind.ATTACHMENT: EntryMap(Upload, {"filename": "name", "internal": "private"}),
            EntryKind.CHARGE: EntryMap(
                Expense, {"name": "label", "quantity": "qty", "unit_price": "price", "unit_cost": "cost"}
            ),
        },
        partner_entries=partner_entries,
    )
