"""``SQLAlchemyHost.entry_values`` reads a mapped entry's values as ``read_field`` reads them one by one,
whatever the entry's state in its session: pending, flushed with a server default not yet read back,
expired by a commit, with a deferred column, or changed since it was loaded (issue 18, target 1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Integer, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from outsource_plugin import EntryKind, EntryMap, Permission, SQLAlchemyHost
from outsource_plugin.host.fields import FieldSpec, read_field


class Base(DeclarativeBase):
    pass


class Memo(Base):
    __tablename__ = "memo"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(default=False)
    author: Mapped[str | None] = mapped_column(String(40), deferred=True)
    kept: Mapped[str] = mapped_column(String(20), server_default="kept")

    @property
    def shout(self) -> str:
        return self.body.upper()


FIELDS: dict[str, FieldSpec] = {"text": "body", "internal": "internal", "author": "author", "question": "kept"}
WITH_PROPERTY: dict[str, FieldSpec] = {"text": "shout", "internal": "internal"}


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _host(fields: dict[str, FieldSpec]) -> SQLAlchemyHost:
    return SQLAlchemyHost(
        None,
        ticket_model=Memo,
        current_user=lambda: None,
        permission=lambda user: Permission.NONE,
        entries={EntryKind.NOTE: EntryMap(Memo, fields)},
    )


def _pending(session: Session) -> Memo:
    memo = Memo(ticket_id=1, body="new", author="Ann")
    session.add(memo)
    return memo


def _flushed(session: Session) -> Memo:
    memo = _pending(session)
    session.flush()
    return memo


def _committed(session: Session) -> Memo:
    memo = _flushed(session)
    session.commit()
    return memo


def _queried(session: Session) -> Memo:
    _committed(session)
    session.expunge_all()
    return session.scalars(select(Memo)).one()


def _changed(session: Session) -> Memo:
    memo = _queried(session)
    memo.body = "edited"
    memo.internal = True
    return memo


STATES: list[Callable[[Session], Memo]] = [_pending, _flushed, _committed, _queried, _changed]


@pytest.mark.parametrize("fields", [FIELDS, WITH_PROPERTY])
@pytest.mark.parametrize("state", STATES)
def test_entry_values_are_the_values_read_one_by_one(
    session: Session, state: Callable[[Session], Memo], fields: dict[str, FieldSpec]
) -> None:
    memo = state(session)
    got = _host(fields).entry_values(EntryKind.NOTE, memo)  # first: reading one by one loads what is not
    expected: dict[str, Any] = {name: read_field(memo, spec) for name, spec in fields.items()}
    assert got == expected
    assert list(got) == list(fields)
