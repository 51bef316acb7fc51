"""An attachment over ``OUTSOURCE_MAX_ATTACHMENT_BYTES`` does not vanish: whichever side
finds it cannot sync, both sides record the error and the lead ticket gets a note."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from examples.helpdesk.models import Attachment, Note, db
from outsource_plugin.adapters.base import ChangeKind, DeliveryResult, Outbound, RemoteChange
from outsource_plugin.db.models import Engagement, EntryLink
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.jobs.poll import poll_all
from outsource_plugin.state import current_outsource
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import accepted, sync, upload

LIMIT = 1000


@pytest.fixture
def small_limit(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin's limit only: the demo host still takes the upload."""
    monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_MAX_ATTACHMENT_BYTES", LIMIT)


def last_sync_error(app: Flask, uid: str) -> str:
    with app.app_context():
        engagement = current_outsource().session.query(Engagement).filter_by(uid=uid).one()
        return str(engagement.last_sync_error)


def notes(app: Flask, ticket_id: str) -> list[tuple[str, bool]]:
    with app.app_context():
        return [(n.body, n.internal) for n in db.session.query(Note).filter_by(ticket_id=int(ticket_id))]


def sent_entries(app: Flask, partner_id: int, uid: str) -> list[dict[str, Any]]:
    return [
        dict(m.payload)
        for m in memory_partner(app, partner_id).received
        if m.kind == "entry" and m.engagement_uid == uid
    ]


@pytest.mark.usefixtures("small_limit")
def test_a_partner_attachment_over_the_limit_is_a_sync_error_on_both_sides(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    partner = memory_partner(app, partner_id)
    values = {"filename": "scan.pdf", "media_type": "application/pdf", "size": 2 * LIMIT, "data": b"%" * 2 * LIMIT}
    key = partner.add_entry(uid, EntryKind.ATTACHMENT, values).data["entry_key"]
    sync(app)

    with app.app_context():
        assert db.session.query(Attachment).filter_by(ticket_id=int(ticket_id)).count() == 0
    error = last_sync_error(app, uid)
    assert "'scan.pdf' (2000 bytes) from Contoso was not received" in error and "1000 bytes" in error
    assert (error, True) in notes(app, ticket_id)
    [refusal] = sent_entries(app, partner_id, uid)
    assert refusal["op"] == "refused" and refusal["entry_key"] == key and refusal["reason"] == error


@pytest.mark.usefixtures("small_limit")
def test_our_attachment_over_the_limit_is_not_sent_and_the_partner_is_told(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    upload(api, ticket_id, "dump.bin", b"\0" * (LIMIT + 1))
    sync(app)
    error = last_sync_error(app, uid)
    assert "'dump.bin' (1001 bytes) was not sent to Contoso" in error
    assert (error, True) in notes(app, ticket_id)
    [refusal] = sent_entries(app, partner_id, uid)
    assert refusal["op"] == "refused" and "data" not in refusal["data"]


REASON = "Attachment 'photo.jpg' (64 bytes) from Northwind was not received: it is over the size limit of 10 bytes."


def refusal(uid: str, sent: dict[str, Any]) -> RemoteChange:
    """The partner's answer to one of our attachment messages (``sent``): not received."""
    return RemoteChange(
        kind=ChangeKind.ENTRY,
        engagement_uid=uid,
        change_id=f"refusal-{sent['entry_key']}",
        data={
            "entry_key": sent["entry_key"],
            "op": "refused",
            "kind": "attachment",
            "data": {"filename": "photo.jpg", "size": 64},
            "reason": REASON,
            "origin": {"side": "service", "org": "memory", "at": sent["origin"]["at"]},
        },
    )


def test_the_partner_refusing_our_attachment_is_our_sync_error_too(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    upload(api, ticket_id, "photo.jpg", b"\xff" * 64)
    sync(app)
    [sent] = sent_entries(app, partner_id, uid)
    memory_partner(app, partner_id).feed.append(refusal(uid, sent))
    sync(app)
    assert last_sync_error(app, uid) == f"Contoso: {REASON}"
    assert (f"Contoso: {REASON}", True) in notes(app, ticket_id)
    with app.app_context():
        link = db.session.query(EntryLink).filter_by(engagement_uid=uid, entry_key=sent["entry_key"]).one()
        assert link.sent is False


def test_a_refusal_applied_while_its_attachment_is_being_delivered_stays_visible(
    app: Flask, api: Api, ticket_id: str, partner_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partner may refuse (and we may poll its refusal) before our push is recorded as
    delivered: recording the delivery must not wipe the error out."""
    uid = accepted(app, api, ticket_id, partner_id)
    partner = memory_partner(app, partner_id)
    deliver = partner.deliver

    def deliver_and_refuse(message: Outbound) -> DeliveryResult:
        result = deliver(message)
        if message.kind == "entry" and message.payload["kind"] == "attachment":
            partner.feed.append(refusal(uid, dict(message.payload)))
            poll_all(current_outsource())  # our poller, meanwhile, in another worker
        return result

    monkeypatch.setattr(partner, "deliver", deliver_and_refuse)
    upload(api, ticket_id, "photo.jpg", b"\xff" * 64)
    sync(app)
    assert last_sync_error(app, uid) == f"Contoso: {REASON}"
