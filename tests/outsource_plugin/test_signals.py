"""The signals a host turns into e-mail or chat: what each one is sent with, pinned against
what ``signals.py`` documents, and a received offer announced like every other status change."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from blinker import NamedSignal
from flask import Flask

from outsource_plugin import signals
from outsource_plugin.db.models import AuditEvent
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from outsource_plugin.sync import inbound
from outsource_plugin.sync.inbound import apply_change
from outsource_plugin.workflow import Action, Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket
from tests.blueprints.page_helpers import page_client, post
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import accepted, status, sync

ROOT = Path(__file__).resolve().parents[2]
#: the product's folders: every signal they send is checked against its documentation
PRODUCT = ("outsource_plugin", "adapters", "blueprints", "jobs")


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


def test_a_refused_change_is_not_signalled_when_its_poll_rolls_back(
    app: Flask, api: Api, ticket_id: str, partner_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """signals.py: a signal raised during a transaction is sent only after it commits, so a
    receiver never announces a change that rolled back."""
    uid = accepted(app, api, ticket_id, partner_id)
    partner = memory_partner(app, partner_id)
    partner.add_entry(uid, EntryKind.NOTE, {"text": 7, "internal": False})  # refused: not a string
    partner.add_entry(uid, EntryKind.NOTE, {"text": "on site now", "internal": False})

    def apply_then_fail(state: Any, partner: Any, change: Any) -> None:
        apply_change(state, partner, change)
        raise RuntimeError("a bug after the refused change")

    monkeypatch.setattr(inbound, "apply_change", apply_then_fail)
    with recorded(signals.sync_failed) as sent:
        sync(app)
    assert [kw["error"] for kw in sent] == ["RuntimeError: a bug after the refused change"]
    assert set(sent[0]) == documented(signals.sync_failed)


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


def called(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def sent_signal(call: ast.Call) -> str | None:
    """The name of the plugin signal this call sends (``signals.x.send(...)`` or
    ``signals.send_after_commit(session, signals.x, ...)``), or None."""
    if called(call.func) == "send" and isinstance(call.func, ast.Attribute):
        target = call.func.value
    elif called(call.func) == "send_after_commit" and len(call.args) > 1:
        target = call.args[1]
    else:
        return None
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "signals":
        return target.attr
    return None


def signal_sends() -> list[tuple[str, str, set[str | None]]]:
    """(where, signal, keyword names) of every send of a plugin signal in the product code."""
    sends = []
    for path in sorted(p for folder in PRODUCT for p in (ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and (name := sent_signal(node)) is not None:
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                sends.append((where, name, {keyword.arg for keyword in node.keywords}))
    return sends


def test_every_send_of_a_signal_passes_exactly_the_documented_kwargs() -> None:
    sends = signal_sends()
    assert {name for _, name, _ in sends} == {"status_changed", "question_asked", "sync_failed"}
    wrong = {
        where: sorted(map(str, kwargs)) for where, name, kwargs in sends if kwargs != documented(getattr(signals, name))
    }
    assert wrong == {}, "each send must pass exactly the kwargs its signal documents (no **kwargs)"
