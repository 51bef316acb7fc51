"""The demo help desk's own tables. The plugin never imports this module:
it reaches these models only through the field map in ``app.py``."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

#: Flask-SQLAlchemy's own declarative base: a ``DeclarativeBase`` model_class needs Flask-SQLAlchemy 3.1,
#: and the plugin supports 3.0.5; annotated ``Mapped[...]`` columns work on either base.
db = SQLAlchemy()


def now() -> datetime:
    return datetime.now(timezone.utc)


class User(db.Model):  # type: ignore[name-defined]
    __tablename__ = "hd_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    #: 0 None, 1 Allow Outsourcing, 2 Allow Partner Management, 3 Allow All
    outsource_level: Mapped[int] = mapped_column(Integer, default=0)
    api_token: Mapped[str] = mapped_column(String(64), unique=True, default=lambda: secrets.token_hex(24))

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class Customer(db.Model):  # type: ignore[name-defined]
    __tablename__ = "hd_customer"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Ticket(db.Model):  # type: ignore[name-defined]
    __tablename__ = "hd_ticket"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(64), default="New")
    priority: Mapped[str] = mapped_column(String(32), default="Medium")
    due_date: Mapped[date | None] = mapped_column(Date)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("hd_customer.id"))
    contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("hd_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)

    customer: Mapped[Customer | None] = relationship()
    notes: Mapped[list[Note]] = relationship(back_populates="ticket", order_by="Note.id")
    time_entries: Mapped[list[TimeEntry]] = relationship(order_by="TimeEntry.id")
    charges: Mapped[list[Charge]] = relationship(order_by="Charge.id")
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id")

    @property
    def number(self) -> str:
        return f"T{self.id:05d}"


class Note(db.Model):  # type: ignore[name-defined]
    __tablename__ = "hd_note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("hd_ticket.id"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)
    ticket: Mapped[Ticket] = relationship(back_populates="notes")


class TimeEntry(db.Model):  # type: ignore[name-defined]
    __tablename__ = "hd_time_entry"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("hd_ticket.id"), index=True)
    resource: Mapped[str] = mapped_column(String(200))
    work_date: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    work_type: Mapped[str] = mapped_column(String(64), default="Remote support")
    summary: Mapped[str] = mapped_column(Text, default="")
    billable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Charge(db.Model):  # type: ignore[name-defined]
    __tablename__ = "hd_charge"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("hd_ticket.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal(1))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    billable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Attachment(db.Model):  # type: ignore[name-defined]
    __tablename__ = "hd_attachment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("hd_ticket.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(127), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
