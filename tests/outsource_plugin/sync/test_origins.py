"""The batched origins of a ticket's entries: one query for the whole list, not one per entry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import event

from examples.helpdesk.models import Ticket, db
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.sync.origins import entry_origins
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import accepted, note, sync


@contextmanager
def counted(app: Flask) -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_tickets_origins_cost_one_query_however_many_entries(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    ours = [note(api, ticket_id, f"ours {n}") for n in range(3)]
    partner = memory_partner(app, partner_id)
    for n in range(4):
        partner.add_entry(uid, EntryKind.NOTE, {"text": f"theirs {n}", "internal": False}, user="Tess Tech")
    sync(app)
    with app.test_request_context():
        ticket = db.session.get(Ticket, int(ticket_id))
        assert ticket is not None
        notes = list(ticket.notes)
        assert len(notes) == 7
        with counted(app) as statements:
            origins = entry_origins(ticket_id)
            found = {n.id: origins.get("note", n) for n in notes}
        assert len(statements) == 1, statements
    assert all(found[n] is None for n in ours)
    theirs = [origin for n, origin in found.items() if n not in ours]
    assert [origin.author if origin else None for origin in theirs] == ["Tess Tech (Contoso)"] * 4
