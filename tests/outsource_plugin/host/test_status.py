"""The ticket status in every shape a host keeps it: a string, an enum, a key into a status table,
a relationship to a status row, or the host's own code with the attribute it depends on.

Closing a ticket in the host's own session must run the completion cascade whatever the shape,
and a status the plugin could not watch must stop the app from starting, never do nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from outsource_plugin import Field, Side, Status
from outsource_plugin.db.models import Engagement, Partner, utcnow
from outsource_plugin.errors import ConfigurationError
from outsource_plugin.state import current_outsource
from tests.outsource_plugin.host.conftest import Mount, seed
from tests.outsource_plugin.host.shapes import (
    CODES,
    CodeTicket,
    EnumTicket,
    ForeignKeyTicket,
    Phase,
    RelationshipTicket,
    StatusRow,
    StringTicket,
    db,
)

CODE_FOR = {name: code for code, name in CODES.items()}
CODE_FIELD = Field(
    read=lambda t: CODES[t.code], write=lambda t, name: setattr(t, "code", CODE_FOR[name]), watch=("code",)
)


def row(name: str) -> StatusRow:
    return db.session.scalars(select(StatusRow).where(StatusRow.name == name)).one()


def fields(status: Any) -> dict[str, Any]:
    """The field map of the shape models: they have a title and a status, nothing else."""
    return {"status": status, **dict.fromkeys(("description", "priority", "due", "customer", "contact"))}


@dataclass(frozen=True)
class Shape:
    model: type
    status: Any
    open: Callable[[], dict[str, Any]]
    close: Callable[[Any], None]
    complete_status: str = "Closed"
    #: what a ticket the plugin opens starts with, where the model has no default
    defaults: dict[str, Any] = field(default_factory=dict)


def _set(attribute: str, value: Callable[[], Any]) -> Callable[[Any], None]:
    return lambda ticket: setattr(ticket, attribute, value())


SHAPES = {
    "string column": Shape(StringTicket, "status", lambda: {"status": "Open"}, _set("status", lambda: "Closed")),
    "enum by value": Shape(EnumTicket, "phase", lambda: {"phase": Phase.OPEN}, _set("phase", lambda: Phase.CLOSED)),
    "enum by name": Shape(
        EnumTicket, "phase", lambda: {"phase": Phase.OPEN}, _set("phase", lambda: Phase.CLOSED), "CLOSED"
    ),
    "foreign key": Shape(
        ForeignKeyTicket,
        "status_id",
        lambda: {"status_id": row("Open").id},
        _set("status_id", lambda: row("Closed").id),
        defaults={"status_id": lambda offer: row("Open").id},
    ),
    "relationship, row set": Shape(
        RelationshipTicket,
        "state",
        lambda: {"state": row("Open")},
        _set("state", lambda: row("Closed")),
        defaults={"state": lambda offer: row("Open")},
    ),
    "relationship, key set": Shape(
        RelationshipTicket,
        "state",
        lambda: {"state": row("Open")},
        _set("state_id", lambda: row("Closed").id),
        defaults={"state": lambda offer: row("Open")},
    ),
    "field with watch": Shape(CodeTicket, CODE_FIELD, lambda: {"code": "o"}, _set("code", lambda: "c")),
}


def mount_shape(mount: Mount, shape: Shape, **host: Any) -> Flask:
    return mount(
        ticket_model=shape.model,
        ticket_fields=fields(shape.status),
        complete_status=shape.complete_status,
        ticket_defaults=shape.defaults,
        **host,
    )


def open_ticket(app: Flask, shape: Shape) -> str:
    with app.app_context():
        ticket = shape.model(title="Printer on fire", **shape.open())
        db.session.add(ticket)
        db.session.commit()
        return str(ticket.id)


def accepted_engagement(app: Flask, ticket_id: str) -> int:
    """An engagement of the ticket, accepted by the partner: the cascade's subject."""
    with app.app_context():
        partner = Partner(name="Contoso", adapter="memory", config={}, default_terms={})
        db.session.add(partner)
        db.session.flush()
        engagement = Engagement(
            role=Side.LEAD, ticket_id=ticket_id, partner_id=partner.id, status=Status.ACCEPTED, accepted_at=utcnow()
        )
        db.session.add(engagement)
        db.session.commit()
        return engagement.id


def engagement_status(app: Flask, engagement_id: int) -> Status:
    with app.app_context():
        return db.session.get(Engagement, engagement_id).status


@pytest.mark.parametrize("name", list(SHAPES))
def test_closing_the_ticket_in_the_host_session_completes_the_engagement(
    mount: Mount, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    shape = SHAPES[name]
    app = mount_shape(mount, shape)
    ticket_id = open_ticket(app, shape)
    engagement_id = accepted_engagement(app, ticket_id)
    with app.app_context():
        ticket = db.session.get(shape.model, int(ticket_id))
        ticket.title = "Printer on fire, still"
        db.session.commit()
    assert engagement_status(app, engagement_id) is Status.ACCEPTED, "a change that does not close leaves it be"
    with app.app_context(), caplog.at_level(logging.INFO, logger="outsource_plugin"):
        shape.close(db.session.get(shape.model, int(ticket_id)))
        db.session.commit()
    assert engagement_status(app, engagement_id) is Status.COMPLETE
    assert any(
        "completion cascade" in r.getMessage() and f"ticket {ticket_id}" in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize("name", list(SHAPES))
def test_the_plugin_reads_and_writes_the_status_in_every_shape(mount: Mount, name: str) -> None:
    shape = SHAPES[name]
    app = mount_shape(mount, shape)
    ticket_id = open_ticket(app, shape)
    with app.app_context():
        host = current_outsource().host
        before = host.get_ticket(ticket_id)
        assert before is not None and (before.status, before.is_complete) == ("Open", False)
        host.set_ticket_complete(ticket_id)
        db.session.commit()
    with app.app_context():
        after = current_outsource().host.get_ticket(ticket_id)
        assert after is not None and (after.status, after.is_complete) == ("Closed", True)


REFUSED = {
    "a bare callable": (
        {"ticket_model": ForeignKeyTicket, "ticket_fields": fields(lambda t: t.status_id)},
        ["ForeignKeyTicket", 'Field(read, write, watch=("status_id",))'],
    ),
    "no status at all": (
        {"ticket_model": StringTicket, "ticket_fields": fields(None)},
        ["StringTicket", "ticket_fields", "status"],
    ),
    "an attribute the model lacks": (
        {"ticket_model": StringTicket, "ticket_fields": fields("state")},
        ["StringTicket", "'state'", "Field("],
    ),
    "a plain Python property": (
        {"ticket_model": StringTicket, "ticket_fields": fields("label")},
        ["StringTicket", "'label'", "Field("],
    ),
    "a Field that watches nothing": (
        {"ticket_model": CodeTicket, "ticket_fields": fields(Field(read=lambda t: CODES[t.code]))},
        ["CodeTicket", "watch="],
    ),
    "a Field that watches an attribute the model lacks": (
        {"ticket_model": CodeTicket, "ticket_fields": fields(Field(read=lambda t: CODES[t.code], watch=("kode",)))},
        ["CodeTicket", "'kode'"],
    ),
    "an enum without the complete member": (
        {"ticket_model": EnumTicket, "ticket_fields": fields("phase"), "complete_status": "Resolved"},
        ["EnumTicket", "'phase'", "'Resolved'", "complete_status"],
    ),
    "no status row of the complete name": (
        {"ticket_model": ForeignKeyTicket, "ticket_fields": fields("status_id"), "complete_status": "Resolved"},
        ["ForeignKeyTicket", "'status_id'", "shape_status", "'Resolved'", "complete_status"],
    ),
    "a status row without the name attribute": (
        {"ticket_model": RelationshipTicket, "ticket_fields": fields("state"), "status_name": "label"},
        ["RelationshipTicket", "StatusRow", "'label'", "status_name"],
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_status_it_cannot_watch_or_resolve_refuses_to_start(mount: Mount, case: str) -> None:
    host, fragments = REFUSED[case]
    with pytest.raises(ConfigurationError) as refused:
        mount(**{"complete_status": "Closed", **host})
    for fragment in fragments:
        assert fragment in refused.value.message


@pytest.mark.parametrize("tables", ["empty", "not created"])
def test_a_status_table_without_rows_at_start_is_checked_at_first_use(
    mount: Mount, tables: str, caplog: pytest.LogCaptureFixture
) -> None:
    shape = SHAPES["foreign key"]
    with caplog.at_level(logging.WARNING, logger="outsource_plugin"):
        app = mount_shape(mount, shape, tables=tables == "empty", statuses=())
    assert any(r.levelno == logging.WARNING and "'Closed'" in r.getMessage() for r in caplog.records)
    caplog.clear()
    seed(app, ["Open"])
    ticket_id = open_ticket(app, shape)
    with app.app_context(), caplog.at_level(logging.ERROR, logger="outsource_plugin"):
        with pytest.raises(ConfigurationError, match="'Closed'"):
            current_outsource().host.set_ticket_complete(ticket_id)
        db.session.rollback()
    assert any(r.levelno == logging.ERROR and "'Closed'" in r.getMessage() for r in caplog.records)
    with app.app_context():
        db.session.add(StatusRow(name="Closed"))
        db.session.commit()
        current_outsource().host.set_ticket_complete(ticket_id)
        db.session.commit()
        ticket = current_outsource().host.get_ticket(ticket_id)
        assert ticket is not None and ticket.is_complete


def test_a_read_only_status_field_cannot_be_written(mount: Mount) -> None:
    shape = SHAPES["field with watch"]
    app = mount(ticket_model=CodeTicket, ticket_fields=fields(Field(read=lambda t: CODES[t.code], watch=("code",))))
    ticket_id = open_ticket(app, shape)
    with app.app_context(), pytest.raises(ConfigurationError, match="write"):
        current_outsource().host.set_ticket_complete(ticket_id)
