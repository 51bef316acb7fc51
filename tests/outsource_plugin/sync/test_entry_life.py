"""Entry links on a host that reuses entry ids (issue 12, defect 1).

A deleted entry's id comes back on the next new entry of its table: SQLite
does that on its own for an INTEGER PRIMARY KEY without AUTOINCREMENT (the
demo's tables); on PostgreSQL, whose sequences never go back, the demo's
``HELPDESK_REUSE_IDS`` setting gives new entries ``max(id) + 1`` instead, as
some hosts do. Every test first checks that the id really was reused.

The demo host is the lead; the memory adapter plays the service partner.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from examples.helpdesk.models import db
from outsource_plugin.adapters.base import ChangeKind, RemoteChange
from outsource_plugin.db.models import EntryLink
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.state import current_outsource
from outsource_plugin.workflow import Action
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import accepted, act, note, status, sync

CHARGE = {"name": "Switch", "quantity": "1", "unit_price": "200", "unit_cost": "150"}


@pytest.fixture
def app(app: Flask, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The demo host, its entry tables reusing the id of a deleted newest row on either database."""
    monkeypatch.setitem(app.config, "HELPDESK_REUSE_IDS", not database_url.startswith("sqlite"))
    return app


def add(api: Api, ticket_id: str, kind: str, body: dict[str, Any], expect: int = 201) -> int:
    response = api.post(f"/api/tickets/{ticket_id}/{kind}", json=body)
    assert response.status_code == expect, response.get_json()
    return int(response.get_json()["id"])


def delete(api: Api, ticket_id: str, kind: str, entry_id: int, expect: int = 204) -> Any:
    response = api.call("DELETE", f"/api/tickets/{ticket_id}/{kind}/{entry_id}")
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def edit(api: Api, ticket_id: str, kind: str, entry_id: int, body: dict[str, Any], expect: int = 200) -> Any:
    response = api.patch(f"/api/tickets/{ticket_id}/{kind}/{entry_id}", json=body)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def sent(app: Flask, partner_id: int, uid: str) -> list[tuple[str, str, str]]:
    """(op, entry key, name or text) of every entry message the partner received."""
    out = []
    for message in memory_partner(app, partner_id).received:
        if message.kind == "entry" and message.engagement_uid == uid:
            data = message.payload["data"]
            out.append((message.payload["op"], message.payload["entry_key"], str(data.get("name") or data.get("text"))))
    return out


def partner_deletes(app: Flask, partner_id: int, uid: str, key: str) -> None:
    """The partner deletes its entry ``key``: a delete change in its feed."""
    origin = {"side": "service", "org": "memory", "user": "partner user", "at": "2026-01-01T00:00:00+00:00"}
    memory_partner(app, partner_id).feed.append(
        RemoteChange(
            kind=ChangeKind.ENTRY,
            engagement_uid=uid,
            change_id=f"delete-{key}",
            data={"entry_key": key, "op": "delete", "kind": "charge", "data": {}, "origin": origin},
        )
    )
    sync(app)


def entries(api: Api, ticket_id: str, listing: str) -> dict[int, dict[str, Any]]:
    response = api.get(f"/api/tickets/{ticket_id}")
    assert response.status_code == 200
    return {int(e["id"]): e for e in response.get_json()[listing]}


def test_a_new_entry_on_a_deleted_entrys_id_starts_a_new_life(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    first = add(api, ticket_id, "charges", CHARGE)
    sync(app)
    delete(api, ticket_id, "charges", first)
    second = add(api, ticket_id, "charges", {**CHARGE, "name": "Cable"})
    assert second == first  # the host reused the id
    edit(api, ticket_id, "charges", second, {"name": "Patch cable"})
    sync(app)

    (op1, key1, name1), (op2, key2, _), (op3, key3, name3), (op4, key4, name4) = sent(app, partner_id, uid)
    assert (op1, name1, op2, key2) == ("upsert", "Switch", "delete", key1)
    assert (op3, name3, op4, name4) == ("upsert", "Cable", "upsert", "Patch cable")
    assert key3 == key4 != key1  # the partner sees a new entry, not the deleted one come back


def test_an_edit_of_a_note_on_a_deleted_copys_id_is_sent(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    partner = memory_partner(app, partner_id)
    key = partner.add_entry(uid, EntryKind.NOTE, {"text": "Switch ordered"}).data["entry_key"]
    sync(app)
    (copy,) = [n["id"] for n in entries(api, ticket_id, "notes").values() if n["body"] == "Switch ordered"]
    partner_deletes(app, partner_id, uid, key)
    assert copy not in entries(api, ticket_id, "notes")

    ours = note(api, ticket_id, "Customer is on site from 9")
    assert ours == copy
    edit(api, ticket_id, "notes", ours, {"body": "Customer is on site from 10"})
    sync(app)
    texts = [(op, text) for op, _, text in sent(app, partner_id, uid)]
    assert texts[-2:] == [("upsert", "Customer is on site from 9"), ("upsert", "Customer is on site from 10")]


def test_a_partner_copy_on_a_deleted_entrys_id_stays_read_only(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    ours = add(api, ticket_id, "charges", CHARGE)
    sync(app)
    delete(api, ticket_id, "charges", ours)
    memory_partner(app, partner_id).add_entry(uid, EntryKind.CHARGE, {"name": "Fan", "quantity": "2"})
    sync(app)
    (copy,) = entries(api, ticket_id, "charges")
    assert copy == ours

    refused = delete(api, ticket_id, "charges", copy, expect=409)
    assert refused["error"] == "read_only_entry" and "came from Contoso" in refused["message"]
    edit(api, ticket_id, "charges", copy, {"name": "Fans"}, expect=409)
    assert entries(api, ticket_id, "charges")[copy]["name"] == "Fan"


def test_a_pre_suspension_entry_on_a_reused_id_is_read_only_while_waiting_approval(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    first = note(api, ticket_id, "Ordered the wrong switch")
    sync(app)
    delete(api, ticket_id, "notes", first)
    second = note(api, ticket_id, "Ordered the right switch")
    assert second == first
    sync(app)
    memory_partner(app, partner_id).act(uid, Action.SUBMIT)
    sync(app)
    assert status(app, uid) == "waiting_approval"

    refused = edit(api, ticket_id, "notes", second, {"body": "changed"}, expect=409)
    assert "waits for approval" in refused["message"]
    delete(api, ticket_id, "notes", second, expect=409)
    assert entries(api, ticket_id, "notes")[second]["body"] == "Ordered the right switch"


def test_entries_say_what_they_are_and_whether_they_are_read_only(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    ours = add(api, ticket_id, "charges", CHARGE)
    partner = memory_partner(app, partner_id)
    partner.add_entry(uid, EntryKind.CHARGE, {"name": "Fan", "quantity": "2"})
    sync(app)
    (copy,) = set(entries(api, ticket_id, "charges")) - {ours}

    listed = entries(api, ticket_id, "charges")
    assert listed[ours]["outsource"] == {"own": True, "origin": None, "read_only": False, "read_only_reason": None}
    theirs = listed[copy]["outsource"]
    assert (theirs["own"], theirs["read_only"]) == (False, True)
    assert "came from Contoso" in theirs["read_only_reason"]
    assert (theirs["origin"]["partner"], theirs["origin"]["user"]) == ("Contoso", "partner user")
    assert theirs["origin"]["at"]

    partner.act(uid, Action.SUBMIT)
    sync(app)
    suspended = entries(api, ticket_id, "charges")[ours]["outsource"]
    assert suspended["read_only"] and "waits for approval" in suspended["read_only_reason"]

    act(api, ticket_id, "approve")
    sync(app)
    after = entries(api, ticket_id, "charges")
    assert after[copy]["outsource"]["read_only"] is False and after[copy]["outsource"]["own"] is False
    assert after[ours]["outsource"]["read_only"] is False


def test_after_complete_a_copy_is_ours_to_delete_and_its_id_starts_a_local_entry(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    memory_partner(app, partner_id).add_entry(uid, EntryKind.NOTE, {"text": "Switch replaced"})
    sync(app)
    (copy,) = [n["id"] for n in entries(api, ticket_id, "notes").values() if n["body"] == "Switch replaced"]
    act(api, ticket_id, "complete")
    sync(app)
    assert status(app, uid) == "complete"
    received = len(sent(app, partner_id, uid))

    edit(api, ticket_id, "notes", copy, {"body": "Switch replaced, tested"})
    delete(api, ticket_id, "notes", copy)
    ours = note(api, ticket_id, "Invoice checked")
    assert ours == copy
    assert entries(api, ticket_id, "notes")[ours]["outsource"]["own"] is True
    edit(api, ticket_id, "notes", ours, {"body": "Invoice checked twice"})
    delete(api, ticket_id, "notes", ours)
    sync(app)
    assert len(sent(app, partner_id, uid)) == received  # nothing crosses after Complete


def test_a_link_made_before_the_migration_keeps_its_key(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    ours = note(api, ticket_id, "Old note")
    with app.app_context():
        link = current_outsource().session.query(EntryLink).filter_by(engagement_uid=uid).one()
        link.entry_key = f"lead:note:{ours}"  # the key as the plugin made it before entry lives
        current_outsource().session.commit()
    edit(api, ticket_id, "notes", ours, {"body": "Old note, edited"})
    delete(api, ticket_id, "notes", ours)
    sync(app)
    assert [(op, key) for op, key, _ in sent(app, partner_id, uid)][-2:] == [
        ("upsert", f"lead:note:{ours}"),
        ("delete", f"lead:note:{ours}"),
    ]


def test_an_id_freed_by_a_delete_the_plugin_did_not_see_starts_a_new_life(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    memory_partner(app, partner_id).add_entry(uid, EntryKind.CHARGE, {"name": "Fan", "quantity": "2", "unit_cost": "9"})
    sync(app)
    (copy,) = entries(api, ticket_id, "charges")
    with app.app_context():
        # a host clean-up job that deletes rows without its ORM session: no flush, so no capture
        db.session.execute(text("DELETE FROM hd_charge WHERE id = :id"), {"id": copy})
        db.session.commit()
    ours = add(api, ticket_id, "charges", CHARGE)
    assert ours == copy
    assert entries(api, ticket_id, "charges")[ours]["outsource"]["own"] is True

    act(api, ticket_id, "complete")
    (cost,) = [c for c in entries(api, ticket_id, "charges").values() if c["name"].startswith("Outsourcing cost")]
    assert cost["unit_cost"] == "0.00"  # our charge is not the partner's, whatever id it took
