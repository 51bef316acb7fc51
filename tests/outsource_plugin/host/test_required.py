"""Rows the plugin creates are rows the host can render: a ticket opened for an accepted offer and
a partner's note need every column the host's model requires, or the app does not start."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from outsource_plugin import EntryKind, EntryMap
from outsource_plugin.errors import ConfigurationError
from outsource_plugin.state import current_outsource
from tests.outsource_plugin.host.conftest import Mount
from tests.outsource_plugin.host.shapes import StrictNote, StrictTicket, db

WHEN = datetime(2026, 12, 3, 9, 30, tzinfo=timezone.utc)
SYSTEM_USER = 7
STRICT_FIELDS: dict[str, Any] = {
    "title": "subject",
    "description": "body",
    "priority": "priority",
    **dict.fromkeys(("due", "customer", "contact")),
}
#: everything StrictTicket needs that an offer does not give, one of them computed from the offer
STRICT_DEFAULTS: dict[str, Any] = {
    "status": "New",
    "priority": "Normal",
    "category_id": lambda offer: 2 if "printer" in offer["title"].lower() else 1,
    "creator_id": SYSTEM_USER,
    "created_at": lambda offer: WHEN,
}


def strict(mount: Mount, **host: Any) -> Flask:
    return mount(ticket_model=StrictTicket, ticket_fields=STRICT_FIELDS, **host)


def test_a_ticket_column_nothing_fills_refuses_to_start(mount: Mount) -> None:
    with pytest.raises(ConfigurationError) as refused:
        strict(mount, ticket_defaults={"status": "New"})
    message = refused.value.message
    assert "StrictTicket" in message and "ticket_defaults" in message
    for column in ("category_id", "creator_id", "created_at"):
        assert f"'{column}'" in message
    for filled in ("'id'", "'subject'", "'status'", "'body'"):
        assert filled not in message


def test_a_value_the_offer_may_lack_is_not_a_value(mount: Mount) -> None:
    """An offer's priority is optional: a required priority column needs a fallback."""
    with pytest.raises(ConfigurationError) as refused:
        strict(mount, ticket_defaults={k: v for k, v in STRICT_DEFAULTS.items() if k != "priority"})
    assert "'priority'" in refused.value.message


def test_a_default_naming_no_attribute_refuses_to_start(mount: Mount) -> None:
    with pytest.raises(ConfigurationError) as refused:
        strict(mount, ticket_defaults={**STRICT_DEFAULTS, "categroy_id": 1})
    assert "'categroy_id'" in refused.value.message and "StrictTicket" in refused.value.message


@pytest.mark.parametrize(
    ("offer", "priority", "category"),
    [({"title": "Printer jam", "priority": "High"}, "High", 2), ({"title": "VPN down"}, "Normal", 1)],
)
def test_defaults_and_callables_fill_a_renderable_ticket(
    mount: Mount, offer: dict[str, Any], priority: str, category: int
) -> None:
    app = strict(mount, ticket_defaults=STRICT_DEFAULTS)
    with app.app_context():
        info = current_outsource().host.create_ticket(offer, None)
        db.session.commit()
    with app.app_context():
        ticket = db.session.get(StrictTicket, int(info.id))
        assert ticket is not None
        assert (ticket.subject, ticket.status, ticket.priority) == (offer["title"], "New", priority)
        assert (ticket.category_id, ticket.creator_id) == (category, SYSTEM_USER)
        assert ticket.created_at.replace(tzinfo=timezone.utc) == WHEN  # SQLite forgets the zone


def test_an_entry_column_nothing_fills_refuses_to_start(mount: Mount) -> None:
    with pytest.raises(ConfigurationError) as refused:
        strict(
            mount,
            ticket_defaults=STRICT_DEFAULTS,
            entries={EntryKind.NOTE: EntryMap(StrictNote, {"text": "body"})},
            partner_entries="public",  # StrictNote has no internal flag (test_partner_entries_policy)
        )
    message = refused.value.message
    assert "StrictNote" in message and "defaults" in message
    assert "'user_id'" in message and "'created_at'" in message
    for exempt in ("'id'", "'ticket_id'", "'body'"):
        assert exempt not in message


def test_entry_defaults_fill_a_note(mount: Mount) -> None:
    note_map = EntryMap(
        StrictNote,
        {"text": "body"},
        defaults={"user_id": SYSTEM_USER, "created_at": lambda values: WHEN},
    )
    app = strict(mount, ticket_defaults=STRICT_DEFAULTS, entries={EntryKind.NOTE: note_map}, partner_entries="public")
    with app.app_context():
        host = current_outsource().host
        ticket_id = host.create_ticket({"title": "Printer jam"}, None).id
        host.add_note(ticket_id, "The partner declined: no technician nearby", author="Contoso")
        db.session.commit()
    with app.app_context():
        note = db.session.scalars(select(StrictNote)).one()
        assert (note.body, note.user_id) == ("The partner declined: no technician nearby", SYSTEM_USER)
        assert note.created_at.replace(tzinfo=timezone.utc) == WHEN
