"""The bulk writer of capture's rows stores what SQLAlchemy's insert stores, column by column.

``bulk_rows.insert_rows`` hands the driver values converted once per batch
(timestamps, states) or not at all (booleans): the rows must still be the ones
``insert(table)`` writes, as the database holds them (issue 18, target 1).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, cast

import pytest
from flask import Flask
from sqlalchemy import Table, Text, create_engine, insert, select, text
from sqlalchemy import cast as cast_
from sqlalchemy.orm import Session

from examples.helpdesk.models import db
from outsource_plugin.db.bulk_rows import insert_rows
from outsource_plugin.db.models import EntryLink, MessageState, OutboxMessage
from outsource_plugin.wire import MessageKind
from outsource_plugin.workflow import Side

#: not UTC, with microseconds: the timezone and the text form are the types' to convert
MOMENT = datetime(2026, 12, 4, 23, 5, 7, 123456, tzinfo=timezone(timedelta(hours=2)))
ON_THE_SECOND = datetime(2026, 12, 4, 21, 0, 0, tzinfo=timezone.utc)


def stored(table: Table) -> list[tuple[Any, ...]]:
    """The table's rows as the driver reads them back (no type conversion), by id, without the id."""
    rows = db.session.execute(select(text("*")).select_from(table).order_by(table.c.id)).all()
    return [tuple(row)[1:] for row in rows]


def both_ways(table: Table, columns: list[str], rows: list[tuple[Any, ...]], shared: dict[str, Any]) -> None:
    """Write ``rows`` with ``insert``, then (those deleted) with ``insert_rows``: the same rows are stored."""
    db.session.execute(insert(table), [{**dict(zip(columns, row, strict=True)), **shared} for row in rows])
    by_insert = stored(table)
    db.session.execute(table.delete())
    insert_rows(db.session, table, columns, rows, shared)
    assert stored(table) == by_insert
    assert len(by_insert) == len(rows)


def test_outbox_rows_written_in_bulk_are_those_insert_writes(app: Flask, partner_id: int) -> None:
    columns = ["partner_id", "seq", "engagement_uid", "kind", "payload", "message_id"]
    payloads = [{"entry_key": "lead:note:1:ab", "data": {"text": 'Grüße, "quoted"'}, "seen": 3}, {}, {}]
    # a column that repeats a value (an enum member, here) converts it once for all its rows
    kinds = [MessageKind.ENTRY, MessageKind.ACTION, MessageKind.ENTRY]
    with app.app_context():
        table = cast(Table, OutboxMessage.__table__)
        rows = [
            (partner_id, n, "e" * 32, kind, payload, f"{n:032x}")
            for n, (kind, payload) in enumerate(zip(kinds, payloads, strict=True))
        ]
        shared = {"state": MessageState.PENDING, "attempts": 0, "next_attempt_at": MOMENT, "created_at": MOMENT}
        both_ways(table, columns, rows, shared)
        # a moment on the second: SQLite's text form keeps its microseconds all the same
        db.session.rollback()
        both_ways(table, columns, rows, {**shared, "next_attempt_at": ON_THE_SECOND, "created_at": ON_THE_SECOND})
        db.session.rollback()


OUTBOX_COLUMNS = ["partner_id", "seq", "engagement_uid", "kind", "payload", "message_id"]
#: with what a COPY's text form escapes (a backslash, a tab, a new line): psycopg's rows go as one
PAYLOADS = [
    {"entry_key": "lead:note:1:ab", "data": {"text": 'Grüße, "quoted"\\ \t\n\\N', "n": [1.5, None, True]}},
    {},
]


def outbox_rows(partner_id: int, payload: Callable[[dict[str, Any]], Any]) -> list[tuple[Any, ...]]:
    return [(partner_id, n, "e" * 32, MessageKind.ENTRY, payload(p), f"{n:032x}") for n, p in enumerate(PAYLOADS)]


def test_json_given_as_its_text_is_stored_as_insert_stores_the_value(app: Flask, partner_id: int) -> None:
    """Capture hands the outbox's payloads over as JSON text, made faster than from a dictionary
    (issue 18, target 1): stored, it is what ``insert`` stores of the dictionary."""
    shared = {"state": MessageState.PENDING, "attempts": 0, "next_attempt_at": MOMENT, "created_at": MOMENT}
    with app.app_context():
        table = cast(Table, OutboxMessage.__table__)
        db.session.execute(
            insert(table),
            [dict(zip(OUTBOX_COLUMNS, row, strict=True)) | shared for row in outbox_rows(partner_id, dict)],
        )
        by_insert = stored(table)
        db.session.execute(table.delete())
        insert_rows(
            db.session, table, OUTBOX_COLUMNS, outbox_rows(partner_id, json.dumps), shared, json_texts=["payload"]
        )
        assert stored(table) == by_insert
        db.session.rollback()


def test_json_text_is_bound_as_the_column_binds_it_on_an_engine_with_its_own_serializer(
    app: Flask, partner_id: int, database_url: str
) -> None:
    """An engine made with a JSON serializer of its own stores that serializer's text through ``insert``:
    JSON given as ``json.dumps`` text is stored as that serializer writes it too."""
    compact = create_engine(database_url, json_serializer=lambda v: json.dumps(v, separators=(",", ":")))
    shared = {"state": MessageState.PENDING, "attempts": 0, "next_attempt_at": MOMENT, "created_at": MOMENT}
    table = cast(Table, OutboxMessage.__table__)
    try:
        with Session(compact) as session:
            session.execute(
                insert(table),
                [dict(zip(OUTBOX_COLUMNS, row, strict=True)) | shared for row in outbox_rows(partner_id, dict)],
            )
            by_insert = session.execute(select(cast_(table.c.payload, Text)).order_by(table.c.id)).scalars().all()
            session.execute(table.delete())
            insert_rows(
                session, table, OUTBOX_COLUMNS, outbox_rows(partner_id, json.dumps), shared, json_texts=["payload"]
            )
            texts = session.execute(select(cast_(table.c.payload, Text)).order_by(table.c.id)).scalars().all()
            session.rollback()
    finally:
        compact.dispose()
    assert texts == by_insert
    assert by_insert[0].startswith('{"entry_key":"lead:note:1:ab","data":')


def test_entry_links_written_in_bulk_are_those_insert_writes(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """A driver that SQLAlchemy pages into multi-row statements (``insertmanyvalues``, psycopg2's kind),
    in pages of one row each: the pages end where the rows do. SQLite's driver is made one here, as no
    driver of the tests is; psycopg writes the rows with one COPY, where text a COPY escapes (``\\N`` is
    its null) is stored as it is."""
    columns = ["engagement_uid", "entry_key", "kind", "local_id", "owner"]
    columns += ["in_suspension", "first_seq", "sent", "deleted"]
    with app.app_context():
        table = cast(Table, EntryLink.__table__)
        monkeypatch.setattr(db.engine.dialect, "insertmanyvalues_page_size", 1)
        monkeypatch.setattr(db.engine.dialect, "use_insertmanyvalues_wo_returning", True)
        rows = [
            ("e" * 32, "lead:note:1:ab", "note", "1", Side.LEAD, False, 7, True, False),
            ("e" * 32, "lead:time:2:cd", "time", None, Side.SERVICE, True, None, False, True),
            ("e" * 32, "lead:charge:\\N:ef", "charge", "\\N\t\\ \n", Side.LEAD, False, None, False, False),
        ]
        both_ways(table, columns, rows, {"question": False, "created_at": MOMENT, "updated_at": MOMENT})
        db.session.rollback()
