"""Reconciliation in one process, the memory adapter playing the partner: drift induced on
either side is reported, our own is repaired through the outbox and audited, the partner's
is left to the partner, and nothing from a suspension window is ever repaired across."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from sqlalchemy import delete, select, update

from examples.helpdesk.models import Note, db
from outsource_plugin.core.status_counts import count_change
from outsource_plugin.db.models import Engagement, EntryLink, Partner
from outsource_plugin.federation.signing import sign
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.jobs.reconcile import reconcile_all
from outsource_plugin.state import current_outsource
from outsource_plugin.workflow import Action, Side, Status
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import accepted, act, audit, cli, entry_texts, note, status, sync


def report(app: Flask, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli(app, "reconcile", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def kinds(found: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(d["kind"], d["repaired"]) for d in found["drifts"]]


def link_of(app: Flask, uid: str, owner: Side) -> EntryLink:
    with app.app_context():
        link = (
            current_outsource()
            .session.scalars(select(EntryLink).where(EntryLink.engagement_uid == uid, EntryLink.owner == owner))
            .one()
        )
        current_outsource().session.expunge(link)
        return link


def in_sync(app: Flask, api: Api, ticket_id: str, partner_id: int) -> str:
    """An accepted engagement with one note each way, both sides agreeing."""
    uid = accepted(app, api, ticket_id, partner_id)
    note(api, ticket_id, "Lead: please replace the disk")
    memory_partner(app, partner_id).add_entry(uid, EntryKind.NOTE, {"text": "Partner: on my way"})
    sync(app)
    assert report(app) == (0, {"checked": 1, "drifts": [], "repaired": 0, "not_supported": {}, "status_counts": []})
    return uid


def test_an_entry_the_partner_lost_is_reported_then_repaired_once(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = in_sync(app, api, ticket_id, partner_id)
    partner = memory_partner(app, partner_id)
    partner.received[:] = [m for m in partner.received if m.kind != "entry"]

    code, found = report(app)
    assert code == 1 and kinds(found) == [("missing_on_partner", False)]
    key = found["drifts"][0]["entry_key"]
    assert key.startswith("lead:note:") and "not on the partner's ticket" in found["drifts"][0]["detail"]
    assert audit(app, uid, "repair") == []

    code, repaired = report(app, "--repair")
    assert code == 0 and kinds(repaired) == [("missing_on_partner", True)]
    [reason] = audit(app, uid, "repair")
    assert key in reason
    # queued, not yet delivered: a second run sees it in flight and repairs nothing twice
    assert report(app, "--repair")[1]["drifts"] == []
    sync(app)
    assert entry_texts(app, partner_id, uid) == ["Lead: please replace the disk"]
    assert report(app) == (0, {"checked": 1, "drifts": [], "repaired": 0, "not_supported": {}, "status_counts": []})
    assert len(audit(app, uid, "repair")) == 1


def test_content_that_differs_is_re_sent_by_its_owner(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    uid = in_sync(app, api, ticket_id, partner_id)
    ours = link_of(app, uid, Side.LEAD)
    with app.app_context(), db.engine.begin() as conn:  # behind the plugin's back: no sync
        conn.execute(update(Note.__table__).where(Note.id == int(ours.local_id or 0)).values(body="Edited offline"))

    code, found = report(app)
    assert code == 1 and kinds(found) == [("differs", False)]
    assert report(app, "--repair")[0] == 0
    sync(app)
    assert entry_texts(app, partner_id, uid)[-1] == "Edited offline"
    assert report(app)[1]["drifts"] == []


def test_the_partners_entry_missing_here_is_reported_not_repaired(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = in_sync(app, api, ticket_id, partner_id)
    copy = link_of(app, uid, Side.SERVICE)
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(delete(Note.__table__).where(Note.id == int(copy.local_id or 0)))
    memory_partner(app, partner_id).statuses[uid] = Status.WAITING_APPROVAL

    code, found = report(app, "--repair")
    assert code == 1
    assert kinds(found) == [("status", False), ("missing_here", False)]
    assert "accepted here, waiting_approval at the partner" in found["drifts"][0]["detail"]
    assert found["drifts"][1]["entry_key"] == copy.entry_key
    assert audit(app, uid, "repair") == []


def test_entries_from_a_suspension_window_are_never_repaired(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = in_sync(app, api, ticket_id, partner_id)
    partner = memory_partner(app, partner_id)
    partner.act(uid, Action.SUBMIT)
    sync(app)
    assert status(app, uid) == "waiting_approval"
    note(api, ticket_id, "Written while waiting for approval")
    assert report(app, "--repair")[1]["checked"] == 0  # suspended: not compared at all
    act(api, ticket_id, "reject", reason="Disk still clicking")
    sync(app)
    assert status(app, uid) == "in_progress" and partner.statuses[uid] is Status.IN_PROGRESS

    code, found = report(app, "--repair")
    assert (code, found["drifts"]) == (0, [])
    sync(app)
    assert "Written while waiting for approval" not in entry_texts(app, partner_id, uid)
    assert audit(app, uid, "repair") == []


def test_partners_without_the_capability_are_reported_as_not_supported(app: Flask, partner_id: int) -> None:
    with app.app_context():
        session = current_outsource().session
        redmine = Partner(name="Redmine Co", adapter="redmine", config={}, default_terms={})
        session.add(redmine)
        session.flush()
        session.add(Engagement(role=Side.LEAD, ticket_id="1", partner_id=redmine.id, status=Status.IN_PROGRESS))
        count_change(session, Side.LEAD, None, Status.IN_PROGRESS)  # as its transitions would have
        session.commit()
        uid = session.scalars(select(Engagement.uid)).one()
    code, found = report(app, "--partner", "Redmine Co")
    assert code == 0 and found["drifts"] == []
    assert found["not_supported"] == {uid: "the redmine adapter cannot list a partner's entries"}
    text = cli(app, "reconcile")
    assert text.exit_code == 0 and "1 engagements checked, 0 drifts, 0 repaired, 1 not supported" in text.output
    assert cli(app, "reconcile", "--partner", "Nobody").exit_code == 2


def test_the_daily_job_repairs_what_it_finds(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    uid = in_sync(app, api, ticket_id, partner_id)
    partner = memory_partner(app, partner_id)
    partner.received[:] = [m for m in partner.received if m.kind != "entry"]
    with app.app_context():
        assert reconcile_all(current_outsource()) == 1
    sync(app)
    assert entry_texts(app, partner_id, uid) == ["Lead: please replace the disk"]
    assert len(audit(app, uid, "repair")) == 1


def test_the_federation_endpoint_gives_digests_only_and_only_to_the_engagements_partner(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = in_sync(app, api, ticket_id, partner_id)
    secret = "peer-secret-0123456789abcdef"
    with app.app_context():
        session = current_outsource().session
        session.add(
            Partner(
                name="Stranger",
                adapter="peer",
                link_id="stranger",
                config={"base_url": "http://127.0.0.1:9", "link_id": "stranger", "secret": secret},
            )
        )
        session.commit()
    path = f"/outsource/federation/v1/engagements/{uid}"
    assert api.client.get(path).status_code == 401
    stranger = api.client.get(path, headers=sign("stranger", secret, "GET", path, b""))
    assert stranger.status_code == 404
    with app.app_context():
        session = current_outsource().session
        session.execute(
            update(Engagement)
            .where(Engagement.uid == uid)
            .values(partner_id=session.scalars(select(Partner.id).where(Partner.name == "Stranger")).one())
        )
        session.commit()
    answer = api.client.get(path, headers=sign("stranger", secret, "GET", path, b""))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "accepted" and len(body["entries"]) == 2
    assert {e["owner"] for e in body["entries"]} == {"lead", "service"}
    assert "replace the disk" not in answer.get_data(as_text=True)
