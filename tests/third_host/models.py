"""Litware's tables, shaped like the help desks people run on Flask: statuses in a table of their own,
replies by user id with the time spent on them, uploads on disk with a row per file, and integer keys
without AUTOINCREMENT, so SQLite hands a deleted newest row's id to the next one. The plugin never
imports this module."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

from flask import current_app
from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

db = SQLAlchemy()


class User(UserMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    #: viewer, agent, supervisor or admin
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    api_token: Mapped[str] = mapped_column(String(64), unique=True)


class Status(db.Model):  # type: ignore[name-defined]
    __tablename__ = "statuses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class Ticket(db.Model):  # type: ignore[name-defined]
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: required, with no default: the view that opens a ticket picks it
    category: Mapped[str] = mapped_column(String(60))
    status_id: Mapped[int] = mapped_column(ForeignKey("statuses.id"))
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    status: Mapped[Status] = relationship()
    creator: Mapped[User] = relationship()
    replies: Mapped[list[Reply]] = relationship(order_by="Reply.id")
    uploads: Mapped[list[Upload]] = relationship(order_by="Upload.id")


class Reply(db.Model):  # type: ignore[name-defined]
    """A reply the requester sees: Litware has no internal notes."""

    __tablename__ = "replies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    #: the time the replying agent spent, in hours
    hours: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    user: Mapped[User] = relationship()


class Upload(db.Model):  # type: ignore[name-defined]
    """A file on disk under ``UPLOAD_FOLDER``; the row names it."""

    __tablename__ = "uploads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    stored_as: Mapped[str] = mapped_column(String(64))

    def content(self) -> bytes:
        return (Path(current_app.config["UPLOAD_FOLDER"]) / self.stored_as).read_bytes()

    def store(self, data: bytes) -> None:
        """Write the file under a fresh name, so a file is never overwritten by another's."""
        folder = Path(current_app.config["UPLOAD_FOLDER"])
        folder.mkdir(parents=True, exist_ok=True)
        self.stored_as = uuid4().hex
        (folder / self.stored_as).write_bytes(data)
        self.size = len(data)
