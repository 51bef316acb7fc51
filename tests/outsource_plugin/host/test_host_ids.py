"""``SQLAlchemyHost.canonical_ticket_id``: the ticket key's column type says which spelling is the id."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import BigInteger, Integer, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from outsource_plugin import Permission, SQLAlchemyHost

UID = uuid.UUID("0b9e6c1e-3f5a-4d2b-9c1e-7a6b5c4d3e2f")


class Base(DeclarativeBase):
    pass


class IntTicket(Base):
    __tablename__ = "int_ticket"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class BigTicket(Base):
    __tablename__ = "big_ticket"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class UuidTicket(Base):
    __tablename__ = "uuid_ticket"
    key: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)


class TextTicket(Base):
    __tablename__ = "text_ticket"
    ref: Mapped[str] = mapped_column(String(12), primary_key=True)


def host(model: type, key: str = "id") -> SQLAlchemyHost:
    return SQLAlchemyHost(
        None,
        ticket_model=model,
        current_user=lambda: None,
        permission=lambda u: Permission.NONE,
        ticket_fields={"id": key},
    )


@pytest.mark.parametrize(
    ("model", "key", "raw", "canonical"),
    [
        (IntTicket, "id", "5", "5"),
        (IntTicket, "id", "2147483647", "2147483647"),
        (IntTicket, "id", "2147483648", None),
        (IntTicket, "id", "99999999999999999999", None),
        (IntTicket, "id", "9" * 5000, None),
        (IntTicket, "id", "05", None),
        (IntTicket, "id", "+5", None),
        (IntTicket, "id", "-5", None),
        (IntTicket, "id", " 5", None),
        (IntTicket, "id", "5 ", None),
        (IntTicket, "id", "1_0", None),
        (IntTicket, "id", "\u0665", None),
        (IntTicket, "id", "\uff15", None),
        (IntTicket, "id", "", None),
        (BigTicket, "id", "2147483648", "2147483648"),
        (BigTicket, "id", str(2**63), None),
        (UuidTicket, "key", str(UID), str(UID)),
        (UuidTicket, "key", str(UID).upper(), None),
        (UuidTicket, "key", UID.hex, None),
        (UuidTicket, "key", "{" + str(UID) + "}", None),
        (UuidTicket, "key", "urn:uuid:" + str(UID), None),
        (UuidTicket, "key", "not-a-uuid", None),
        (TextTicket, "ref", "INC-05", "INC-05"),
        (TextTicket, "ref", " INC-05", " INC-05"),
        (TextTicket, "ref", "X" * 13, None),
        (TextTicket, "ref", "", None),
    ],
)
def test_one_spelling_per_key_type(model: type, key: str, raw: str, canonical: Any) -> None:
    assert host(model, key).canonical_ticket_id(raw) == canonical


def test_a_computed_id_is_the_hosts_own() -> None:
    computed = SQLAlchemyHost(
        None,
        ticket_model=IntTicket,
        current_user=lambda: None,
        permission=lambda u: Permission.NONE,
        ticket_fields={"id": lambda t: f"T-{t.id}"},
    )
    assert computed.canonical_ticket_id("T-05") == "T-05"
