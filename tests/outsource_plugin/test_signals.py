"""The signals a host turns into e-mail or chat: what each one is sent with, pinned against
what ``signals.py`` documents, and a received offer announced like every other status change."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from blinker import NamedSignal
from flask import Flask

from outsource_plugin import signals
from outsource_plugin.db.models import AuditEvent
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from outsource_plugin.workflow import Action, Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket
from tests.blueprints.page_helpers import page_client, post
from tests.conftest import memory_partner
from tests.outsource_plugin.engagement_helpers import status, sync


@contextmanager
def recorded(signal: NamedSignal) -> Iterator[list[dict[str, Any]]]:
    """The keyword arguments of each send of ``signal`` while the block runs."""
    sent: list[dict[str, Any]] = []

    def record(sender: Any, **kw: Any) -> None:
        sent.append(kw)

    signal.connect(record)
    try:
        yield sent
    finally:
        signal.disconnect(record)


def documented(signal: NamedSignal) -> set[str]:
    """The keyword arguments the signal's documentation promises."""
    match = re.search(r"kwargs: (.*)$", signal.__doc__ or "")
    assert match, f"{signal.name} documents no kwargs"
    return {name.strip() for name in match.group(1).split(",")}


def test_a_received_offer_is_audited_and_signalled_as_its_status_change(app: Flask, partner_id: int) -> None:
    partner = memory_partner(app, partner_id)
    partner.offer("offer-1", {"title": "Printer jam", "number": "L-7"}, {"authorised_hours": "2"})
    with recorded(signals.status_changed) as sent:
        sync(app)
    assert status(app, "offer-1") == "assigned"
    [kw] = sent
    assert set(kw) == documented(signals.status_changed)
    assert kw == {
        "engagement_uid": "offer-1",
        "ticket_id": None,
        "action": Action.SEND,
        "side": Side.LEAD,
        "from_status": None,
        "to_status": Status.ASSIGNED,
        "actor": "Contoso",
        "reason": None,
    }
    with app.app_context():
        [event] = current_outsource().session.query(AuditEvent).filter_by(engagement_uid="offer-1").all()
        assert (event.action, event.side, event.from_status, event.to_status) == (
            Action.SEND,
            Side.LEAD,
            None,
            Status.ASSIGNED,
        )


def test_a_question_is_signalled_with_the_documented_kwargs(app: Flask, partner_id: int) -> None:
    ticket_id = add_ticket(app)
    engagement_id = add_engagement(app, partner_id, status=Status.IN_PROGRESS, role=Side.SERVICE, ticket_id=ticket_id)
    with recorded(signals.question_asked) as sent:
        client = page_client(app, Permission.OUTSOURCE)
        post(client, f"/outsource/engagements/{engagement_id}/question", {"text": "Which door?"})
    [kw] = sent
    assert set(kw) == documented(signals.question_asked)
    assert kw["ticket_id"] == ticket_id and kw["text"] == "Question: Which door?"


def test_every_signal_documents_the_kwargs_it_is_sent_with() -> None:
    assert documented(signals.status_changed) == {
        "engagement_uid",
        "ticket_id",
        "action",
        "side",
        "from_status",
        "to_status",
        "actor",
        "reason",
    }
    assert documented(signals.question_asked) == {"engagement_uid", "ticket_id", "text", "author"}
    assert documented(signals.sync_failed) == {"partner_id", "error"}
