"""``flush_reads.one_of`` selects exactly the rows of an IN list of the same values, on each database.

SQLite is handed a list of values of the column's own type as one JSON text (``json_each``), which
it compares under its type affinity rules; an int against a String column would match nothing
there, so such a list stays an IN list. Digit strings in a String column and an Integer column
given strings are where the two could part.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from flask import Flask
from sqlalchemy import Table, create_engine, select
from sqlalchemy.orm import Session

from examples.helpdesk.models import db
from outsource_plugin.db.models import Engagement, EntryLink
from outsource_plugin.sync.flush_reads import one_of
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket

LOCAL_IDS = ["12", "012", "12.0", " 12", "1e1", "10", "a", "Grüße", "😀"]


def _rows(session: Session, among: Any) -> list[int]:
    return list(session.scalars(select(EntryLink.id).where(among).order_by(EntryLink.id)))


@pytest.fixture
def link_ids(app: Flask, partner_id: int) -> list[int]:
    ticket = add_ticket(app, "Printer")
    engagement_id = add_engagement(app, partner_id, status=Status.ACCEPTED, ticket_id=ticket)
    with app.app_context():
        uid = db.session.get(Engagement, engagement_id).uid
        links = [
            EntryLink(engagement_uid=uid, entry_key=f"lead:note:{n}", kind="note", local_id=local_id, owner=Side.LEAD)
            for n, local_id in enumerate(LOCAL_IDS)
        ]
        db.session.add_all(links)
        db.session.commit()
        return [link.id for link in links]


def _same_rows(column: Any, values: list[Any], session: Session | None = None) -> None:
    session = session or db.session()
    chosen: list[int] = []
    for among in one_of(session, column, values):
        chosen.extend(_rows(session, among))
    assert sorted(chosen) == _rows(session, column.in_(values))


@pytest.fixture
def sqlite_links() -> Iterator[tuple[Session, list[int]]]:
    """The links in a SQLite database of their own, whatever database the run is on: values of another
    type than the column's are SQLite's question alone (PostgreSQL refuses to compare them)."""
    engine = create_engine("sqlite://")
    cast(Table, EntryLink.__table__).create(engine)
    try:
        with Session(engine) as session:
            links = [
                EntryLink(
                    engagement_uid="e" * 32, entry_key=f"lead:note:{n}", kind="note", local_id=local_id, owner=Side.LEAD
                )
                for n, local_id in enumerate(LOCAL_IDS)
            ]
            session.add_all(links)
            session.commit()
            yield session, [link.id for link in links]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "values",
    [["12"], ["012", "12.0", " 12"], ["1e1", "10"], ["a", "Grüße", "😀", "missing"], LOCAL_IDS],
)
def test_a_string_column_given_strings(app: Flask, link_ids: list[int], values: list[Any]) -> None:
    with app.app_context():
        _same_rows(EntryLink.local_id, values)


@pytest.mark.parametrize("values", [[12], [10, 12], [12.0], [True]])
def test_a_string_column_given_other_values_on_sqlite(
    sqlite_links: tuple[Session, list[int]], values: list[Any]
) -> None:
    session, _ = sqlite_links
    _same_rows(EntryLink.local_id, values, session)


def test_an_integer_column_given_ints(app: Flask, link_ids: list[int]) -> None:
    with app.app_context():
        _same_rows(EntryLink.id, [link_ids[0], link_ids[3], link_ids[-1], max(link_ids) + 1000])
        _same_rows(EntryLink.id, list(range(min(link_ids) - 600, max(link_ids) + 600)))  # past one IN chunk


def test_an_integer_column_given_strings_on_sqlite(sqlite_links: tuple[Session, list[int]]) -> None:
    session, link_ids = sqlite_links
    first = link_ids[0]
    _same_rows(EntryLink.id, [str(first), f"0{link_ids[1]}", f"{link_ids[2]}.0", f" {link_ids[3]}", "x"], session)
