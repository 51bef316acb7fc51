"""The demo's ticket page and entries JSON say where each entry came from, and why a read-only one is locked
(issue 16, item 4): a partner's note, time, charge and attachment show "Tess Tech (Contoso)"; a locked
entry offers no Edit control and gives its reason; the lead's own entries carry neither."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from outsource_plugin.host.entries import EntryKind
from outsource_plugin.permissions import Permission
from outsource_plugin.workflow import Action
from tests.conftest import Api, memory_partner
from tests.examples.test_helpdesk import XSS, XSS_ESCAPED, csrf_from, signed_in, ticket_page
from tests.outsource_plugin.engagement_helpers import accepted, note, sync
from tests.outsource_plugin.sync.test_origins import counted

#: one entry of each kind, as the partner's Tess Tech writes them
PARTNER_ENTRIES: dict[EntryKind, dict[str, Any]] = {
    EntryKind.NOTE: {"text": "On site now", "internal": False},
    EntryKind.TIME: {"work_date": date(2026, 12, 1), "hours": Decimal("1.50"), "summary": "Swapped the disk"},
    EntryKind.CHARGE: {"name": "Disk", "quantity": Decimal(1), "unit_price": Decimal("80.00")},
    EntryKind.ATTACHMENT: {"filename": "report.txt", "media_type": "text/plain", "size": 2, "data": b"ok"},
}

#: the demo's JSON listing and page marker of each kind
LISTINGS = {
    EntryKind.NOTE: ("notes", "note"),
    EntryKind.TIME: ("time_entries", "time"),
    EntryKind.CHARGE: ("charges", "charge"),
    EntryKind.ATTACHMENT: ("attachments", "attachment"),
}

#: where one listed entry ends in the page's markup
_END = r"</article>|</tr>|</li>"


def listed(api: Api, ticket_id: str) -> dict[EntryKind, list[dict[str, Any]]]:
    body = api.get(f"/api/tickets/{ticket_id}").get_json()
    return {kind: body[listing] for kind, (listing, _) in LISTINGS.items()}


def shown(page: str, kind: EntryKind, entry_id: int) -> str:
    """The markup of one listed entry, from its id's attribute to the end of its element."""
    start = page.index(f'data-{LISTINGS[kind][1]}-id="{entry_id}"')
    end = re.compile(_END).search(page, start)
    assert end is not None
    return page[start : end.end()]


def partner_wrote_one_of_each(app: Flask, partner_id: int, uid: str, user: str = "Tess Tech") -> None:
    partner = memory_partner(app, partner_id)
    for kind, values in PARTNER_ENTRIES.items():
        partner.add_entry(uid, kind, values, user=user)
    sync(app)


def lead_and_partner_wrote(app: Flask, api: Api, ticket_id: str, partner_id: int) -> tuple[str, int, FlaskClient]:
    """An accepted engagement with one note of the lead's and one entry of each kind by the partner; the
    engagement's uid, the lead's note and a signed-in Allow Outsourcing client."""
    uid = accepted(app, api, ticket_id, partner_id)
    ours = note(api, ticket_id, "Ordered the part")
    partner_wrote_one_of_each(app, partner_id, uid)
    return uid, ours, signed_in(app, Permission.OUTSOURCE)


def test_partner_entries_of_every_kind_carry_the_partner_marker(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    partner_wrote_one_of_each(app, partner_id, uid)
    entries = listed(api, ticket_id)
    page = ticket_page(signed_in(app, Permission.OUTSOURCE), ticket_id)
    for kind in PARTNER_ENTRIES:
        [entry] = entries[kind]
        origin = entry["origin"]
        assert (origin["partner"], origin["author"], origin["read_only"]) == ("Contoso", "Tess Tech (Contoso)", True)
        assert "came from Contoso" in origin["locked_reason"]
        assert '<span class="outsource-origin">Tess Tech (Contoso)</span>' in shown(page, kind, entry["id"]), kind


def test_a_read_only_entry_has_no_edit_control_and_says_why(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid, ours, client = lead_and_partner_wrote(app, api, ticket_id, partner_id)
    [theirs] = [n["id"] for n in listed(api, ticket_id)[EntryKind.NOTE] if n["id"] != ours]

    page = ticket_page(client, ticket_id)
    assert "note-edit" not in shown(page, EntryKind.NOTE, theirs)
    assert "This note came from Contoso: only they can change it" in shown(page, EntryKind.NOTE, theirs)
    for kind in PARTNER_ENTRIES:
        [entry] = [e for e in listed(api, ticket_id)[kind] if e["id"] != ours or kind is not EntryKind.NOTE]
        assert f"This {kind.value} came from Contoso" in shown(page, kind, entry["id"])
        assert "entry-delete" not in shown(page, kind, entry["id"]), kind

    memory_partner(app, partner_id).act(uid, Action.SUBMIT)
    sync(app)
    page = ticket_page(client, ticket_id)
    assert "note-edit" not in shown(page, EntryKind.NOTE, ours)
    assert "entry-delete" not in shown(page, EntryKind.NOTE, ours)
    assert "read-only while the ticket waits for approval" in shown(page, EntryKind.NOTE, ours)
    [own] = [n for n in listed(api, ticket_id)[EntryKind.NOTE] if n["id"] == ours]
    assert own["origin"]["partner"] is None and own["origin"]["author"] is None
    assert own["origin"]["read_only"] is True and "waits for approval" in own["origin"]["locked_reason"]


def test_the_leads_own_entries_carry_no_marker_and_no_lock(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    accepted(app, api, ticket_id, partner_id)
    ours = note(api, ticket_id, "Ordered the part")
    [entry] = listed(api, ticket_id)[EntryKind.NOTE]
    assert entry["origin"] is None
    mine = shown(ticket_page(signed_in(app, Permission.OUTSOURCE), ticket_id), EntryKind.NOTE, ours)
    assert "note-edit" in mine and "entry-delete" in mine
    assert "outsource-origin" not in mine and "lock-reason" not in mine


def test_the_delete_control_deletes_an_entry_and_a_locked_one_is_refused_in_words(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    _, ours, client = lead_and_partner_wrote(app, api, ticket_id, partner_id)
    token = csrf_from(ticket_page(client, ticket_id))
    [charge] = listed(api, ticket_id)[EntryKind.CHARGE]

    refused = client.post(
        f"/tickets/{ticket_id}/entries/charge/{charge['id']}/delete", data={"csrf_token": token}, follow_redirects=True
    )
    assert "The charge was not deleted: this charge came from Contoso: only they can change it" in refused.text
    assert listed(api, ticket_id)[EntryKind.CHARGE] == [charge]

    done = client.post(
        f"/tickets/{ticket_id}/entries/note/{ours}/delete", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Note deleted." in done.text
    assert ours not in [n["id"] for n in listed(api, ticket_id)[EntryKind.NOTE]]
    missing = client.post(f"/tickets/{ticket_id}/entries/note/{ours}/delete", data={"csrf_token": token})
    assert missing.status_code == 404


def test_a_partners_person_is_escaped_on_the_page(app: Flask, api: Api, ticket_id: str, partner_id: int) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    partner_wrote_one_of_each(app, partner_id, uid, user=XSS)
    page = ticket_page(signed_in(app, Permission.OUTSOURCE), ticket_id)
    assert XSS not in page
    assert page.count(f'<span class="outsource-origin">{XSS_ESCAPED} (Contoso)</span>') == len(PARTNER_ENTRIES)


def test_the_entries_json_costs_the_same_queries_however_many_entries(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid, _, _ = lead_and_partner_wrote(app, api, ticket_id, partner_id)
    with counted(app) as few:
        assert len(listed(api, ticket_id)[EntryKind.NOTE]) == 2
    note(api, ticket_id, "Ordered another part")
    partner_wrote_one_of_each(app, partner_id, uid)
    with counted(app) as more:
        assert len(listed(api, ticket_id)[EntryKind.NOTE]) == 4
    assert len(more) == len(few), more
