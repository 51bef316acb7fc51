"""Small host models, one per way a help desk keeps a ticket's status, and two strict ones whose
rows need values nobody gave: what ``SQLAlchemyHost`` has to cope with in hosts no one here wrote."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

#: the Flask-SQLAlchemy object of these models alone: the demo's listeners stay out of these tests
db = SQLAlchemy()


class StatusRow(db.Model):  # type: ignore[name-defined]
    """A status table: the ticket points at a row, and the row's name says what the status is."""

    __tablename__ = "shape_status"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class Phase(enum.Enum):
    OPEN = "Open"
    CLOSED = "Closed"


class StringTicket(db.Model):  # type: ignore[name-defined]
    __tablename__ = "shape_string_ticket"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(40), default="Open")
    #: a plain Python property: nothing the plugin could watch
    label = property(lambda self: f"#{self.id}")


class EnumTicket(db.Model):  # type: ignore[name-defined]
    __tablename__ = "shape_enum_ticket"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    phase: Mapped[Phase] = mapped_column(Enum(Phase, name="shape_phase"), default=Phase.OPEN)


class ForeignKeyTicket(db.Model):  # type: ignore[name-defined]
    __tablename__ = "shape_fk_ticket"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status_id: Mapped[int] = mapped_column(ForeignKey("shape_status.id"))


class RelationshipTicket(db.Model):  # type: ignore[name-defined]
    __tablename__ = "shape_rel_ticket"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    state_id: Mapped[int] = mapped_column(ForeignKey("shape_status.id"))
    state: Mapped[StatusRow] = relationship()


#: a host that keeps a one-letter code and says the status in its own code
CODES = {"o": "Open", "c": "Closed"}


class CodeTicket(db.Model):  # type: ignore[name-defined]
    __tablename__ = "shape_code_ticket"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(1), default="o")


class StrictTicket(db.Model):  # type: ignore[name-defined]
    """A ticket whose page needs a category, a priority, a creator and a date: none has a default."""

    __tablename__ = "shape_strict_ticket"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(32))
    category_id: Mapped[int] = mapped_column(Integer)
    creator_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StrictNote(db.Model):  # type: ignore[name-defined]
    """A note row that needs a date and a user id, which no partner note carries."""

    __tablename__ = "shape_strict_note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("shape_strict_ticket.id"))
    body: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
