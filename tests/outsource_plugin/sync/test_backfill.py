"""``flask outsource backfill``: a newly accepted engagement gets the ticket's earlier notes and
attachments, once, under the sync rules, with the memory adapter playing the partner."""

from __future__ import annotations

import json

from flask import Flask

from examples.helpdesk.models import Note, db
from outsource_plugin.workflow import Action
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import (
    accepted,
    act,
    audit,
    cli,
    engagement_id,
    entry_texts,
    note,
    outbox_count,
    status,
    sync,
    upload,
)


def history(api: Api, ticket_id: str) -> None:
    """What a ticket holds before it is outsourced: public and internal notes and attachments."""
    note(api, ticket_id, "Customer reports the file server is down")
    note(api, ticket_id, "Internal: customer is on a payment plan", internal=True)
    upload(api, ticket_id, "diagram.txt", b"rack 2, unit 14")
    upload(api, ticket_id, "contract.txt", b"confidential", internal=True)


def test_backfill_sends_earlier_public_entries_once(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    history(api, ticket_id)
    uid = accepted(app, api, ticket_id, partner_id)
    note(api, ticket_id, "Live note after acceptance")
    sync(app)
    assert entry_texts(app, partner_id, uid) == ["Live note after acceptance"]

    before = outbox_count(app)
    dry = cli(app, "backfill", "--engagement", str(engagement_id(app, uid)), "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert [len(e["sent"]) for e in json.loads(dry.stdout)["engagements"]] == [2]
    assert outbox_count(app) == before and audit(app, uid, "backfill") == []

    done = cli(app, "backfill", "--engagement", uid)
    assert done.exit_code == 0, done.output
    assert "sent 2 entries" in done.output
    sync(app)
    texts = entry_texts(app, partner_id, uid)
    assert texts == ["Live note after acceptance", "Customer reports the file server is down", "diagram.txt"]
    [reason] = audit(app, uid, "backfill")
    assert "sent 2 entries from before the link" in reason

    again = cli(app, "backfill", "--partner", "Contoso")
    assert again.exit_code == 0 and "sent 0 entries" in again.output
    sync(app)
    assert entry_texts(app, partner_id, uid) == texts
    assert len(audit(app, uid, "backfill")) == 1


def test_backfill_refuses_suspended_and_completed_engagements(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    history(api, ticket_id)
    uid = accepted(app, api, ticket_id, partner_id)
    partner = memory_partner(app, partner_id)
    partner.act(uid, Action.SUBMIT)
    sync(app)
    assert status(app, uid) == "waiting_approval"
    suspended = cli(app, "backfill", "--engagement", uid)
    assert suspended.exit_code == 1 and "Waiting Approval" in suspended.output
    assert cli(app, "backfill").output.strip().endswith("0 engagements, sent 0 entries")

    act(api, ticket_id, "approve")
    sync(app)
    completed = cli(app, "backfill", "--engagement", uid)
    assert completed.exit_code == 1 and "Complete" in completed.output
    sync(app)
    assert entry_texts(app, partner_id, uid) == []
    assert audit(app, uid, "backfill") == []


def test_backfill_options_are_checked(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    both = cli(app, "backfill", "--engagement", uid, "--partner", "Contoso")
    assert both.exit_code == 2 and "not both" in both.output
    assert cli(app, "backfill", "--engagement", "nope").exit_code == 2
    assert cli(app, "backfill", "--partner", "Nobody").exit_code == 2


def test_backfill_sends_an_attachment_whose_id_a_linked_note_has(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    """Notes and attachments are numbered apart in the host: a linked note must not hide an
    unlinked attachment that has the same id."""
    attachment = upload(api, ticket_id, "diagram.txt", b"rack 2, unit 14")
    uid = accepted(app, api, ticket_id, partner_id)
    with app.app_context():
        # the live note takes the attachment's id, as it would in any host with one sequence per table
        db.session.add(Note(id=attachment, ticket_id=int(ticket_id), author="Tech", body="Live note"))
        db.session.commit()
    sync(app)
    assert entry_texts(app, partner_id, uid) == ["Live note"]

    done = cli(app, "backfill", "--engagement", uid)
    assert done.exit_code == 0, done.output
    assert "sent 1 entries" in done.output
    sync(app)
    assert entry_texts(app, partner_id, uid) == ["Live note", "diagram.txt"]
