"""``flush_reads.one_of`` selects exactly the rows of an IN list of the same values, on each database.

SQLite is handed a list of values of the column's own type as one JSON text (``json_each``), which
it compares under its type affinity rules; an int against a String column would match nothing
there, so such a list stays an IN list. Digit strings in a String column and an Integer column
given strings are where the two could part.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from examples.helpdesk.models import db
from outsource_plugin.db.models import Engagement, EntryLink
from outsource_plugin.sync.flush_reads import one_of
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket

LOCAL_IDS = ["12", "012", "12.0", " 12", "1e1", "10", "a", "Grüße", "😀"]
ON_SQLITE = not os.environ.get("OUTSOURCE_TEST_DATABASE_URL")


def _rows(among: Any) -> list[int]:
    return list(db.session.scalars(select(EntryLink.id).where(among).order_by(EntryLink.id)))


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


def _same_rows(column: Any, values: list[Any]) -> None:
    chosen: list[int] = []
    for among in one_of(db.session, column, values):
        chosen.extend(_rows(among))
    assert sorted(chosen) == _rows(column.in_(values))


@pytest.mark.parametrize(
    "values",
    [["12"], ["012", "12.0", " 12"], ["1e1", "10"], ["a", "Grüße", "😀", "missing"], LOCAL_IDS],
)
def test_a_string_column_given_strings(app: Flask, link_ids: list[int], values: list[Any]) -> None:
    with app.app_context():
        _same_rows(EntryLink.local_id, values)


@pytest.mark.skipif(not ON_SQLITE, reason="PostgreSQL refuses to compare a varchar with an integer")
@pytest.mark.parametrize("values", [[12], [10, 12], [12.0], [True]])
def test_a_string_column_given_other_values_on_sqlite(app: Flask, link_ids: list[int], values: list[Any]) -> None:
    with app.app_context():
        _same_rows(EntryLink.local_id, values)


def test_an_integer_column_given_ints(app: Flask, link_ids: list[int]) -> None:
    with app.app_context():
        _same_rows(EntryLink.id, [link_ids[0], link_ids[3], link_ids[-1], max(link_ids) + 1000])
        _same_rows(EntryLink.id, list(range(min(link_ids) - 600, max(link_ids) + 600)))  # past one IN chunk


@pytest.mark.skipif(not ON_SQLITE, reason="PostgreSQL refuses to compare an integer with a varchar")
def test_an_integer_column_given_strings_on_sqlite(app: Flask, link_ids: list[int]) -> None:
    with app.app_context():
        first = link_ids[0]
        _same_rows(EntryLink.id, [str(first), f"0{link_ids[1]}", f"{link_ids[2]}.0", f" {link_ids[3]}", "x"])
