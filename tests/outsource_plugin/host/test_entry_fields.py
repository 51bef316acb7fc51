"""Entry maps take ``Field``s both ways: an author kept as a user id is read and written through the host's code.
And the plugin's own internal notes follow the host's ``partner_entries`` policy."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from outsource_plugin import EntryKind, SQLAlchemyHost
from tests.outsource_plugin.host.plain_desk import SYSTEM_USER_ID, Base, Issue, Person, Reply, plain_host


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Person(id=SYSTEM_USER_ID, name="System"), Person(id=7, name="Ada"), Issue(id=1)])
        session.flush()
        yield session
    engine.dispose()


@pytest.fixture
def host(session: Session) -> SQLAlchemyHost:
    return plain_host(SimpleNamespace(session=session), partner_entries="held")


def test_a_field_author_is_written_through_write(host: SQLAlchemyHost) -> None:
    reply: Any = host.create_entry(EntryKind.NOTE, "1", {"text": "On my way", "author": "Tess Tech (Contoso)"})
    host.session.flush()
    assert (reply.body, reply.user_id) == ("On my way", SYSTEM_USER_ID)
    host.update_entry(EntryKind.NOTE, str(reply.id), {"text": "Done", "author": "Tess Tech (Contoso)"})
    assert (reply.body, reply.user_id) == ("Done", SYSTEM_USER_ID)


def test_a_field_author_is_read_through_read(host: SQLAlchemyHost) -> None:
    host.session.add(Reply(ticket_id=1, body="Checked the cabling", user_id=7))
    host.session.flush()
    [(_, values)] = host.list_entries(EntryKind.NOTE, "1")
    assert values == {"text": "Checked the cabling", "author": "Ada", "hours": None}


@pytest.mark.parametrize(
    ("policy", "written"), [("held", []), ("public", ["Outsourcing declined by Contoso: too far"])]
)
def test_the_plugins_own_notes_follow_the_policy(session: Session, policy: str, written: list[str]) -> None:
    """A decline reason is an internal note: a host that holds partner entries does not get it in its
    replies (the bar and the history show it); a public one does."""
    host = plain_host(SimpleNamespace(session=session), partner_entries=policy)
    host.add_note("1", "Outsourcing declined by Contoso: too far", author="Outsourcing (Contoso)")
    session.flush()
    assert [values["text"] for _, values in host.list_entries(EntryKind.NOTE, "1")] == written
