"""Fabrikam's own tables, shaped unlike the demo's: UUID case keys, other table and
column names, and no time-entry model at all. The plugin never imports this module."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, LargeBinary, Numeric, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

#: Flask-SQLAlchemy's own declarative base: a ``DeclarativeBase`` model_class needs Flask-SQLAlchemy 3.1,
#: and the plugin supports 3.0.5; annotated ``Mapped[...]`` columns work on either base.
db = SQLAlchemy()


class Agent(db.Model):  # type: ignore[name-defined]
    __tablename__ = "agents"
    agent_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    #: viewer, agent, supervisor or owner: Fabrikam's own roles
    role: Mapped[str] = mapped_column(String(20))
    token: Mapped[str] = mapped_column(String(64), unique=True)


class Client(db.Model):  # type: ignore[name-defined]
    __tablename__ = "clients"
    client_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    company: Mapped[str] = mapped_column(String(200), unique=True)


class Case(db.Model):  # type: ignore[name-defined]
    __tablename__ = "cases"
    uuid: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    subject: Mapped[str] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(32), default="Open")
    urgency: Mapped[str | None] = mapped_column(String(32))
    respond_by: Mapped[date | None] = mapped_column(Date)
    client_no: Mapped[int | None] = mapped_column(ForeignKey("clients.client_no"))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(timezone.utc))

    comments: Mapped[list[CaseComment]] = relationship(order_by="CaseComment.comment_no")
    expenses: Mapped[list[CaseExpense]] = relationship(order_by="CaseExpense.expense_no")
    files: Mapped[list[CaseFile]] = relationship(order_by="CaseFile.uploaded_at")

    @property
    def reference(self) -> str:
        """What Fabrikam's staff call a case: short, unlike its key."""
        return f"CASE-{self.uuid.hex[:8].upper()}"


class CaseComment(db.Model):  # type: ignore[name-defined]
    __tablename__ = "case_comments"
    comment_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_uuid: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.uuid"), index=True)
    written_by: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    staff_only: Mapped[bool] = mapped_column(Boolean, default=False)


class CaseExpense(db.Model):  # type: ignore[name-defined]
    __tablename__ = "case_expenses"
    expense_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_uuid: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.uuid"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    qty: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal(1))
    sell_each: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    cost_each: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    chargeable: Mapped[bool] = mapped_column(Boolean, default=True)


class CaseFile(db.Model):  # type: ignore[name-defined]
    __tablename__ = "case_files"
    file_uuid: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    case_uuid: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.uuid"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(127), default="application/octet-stream")
    byte_count: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    staff_only: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(timezone.utc))
