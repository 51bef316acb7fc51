"""The ticket page's live answer: a cheap version of what the blue bar shows, the bar itself
when it changed, and nothing for a caller who cannot see the ticket."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from outsource_plugin.host.entries import EntryKind
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from tests.blueprints.page_helpers import page_client
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import accepted, sync


def _live(client: FlaskClient, ticket_id: str) -> tuple[str, str]:
    """The version and the bar of one poll of the ticket's live answer."""
    response = client.get(f"/outsource/tickets/{ticket_id}/live")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    body = response.get_json()
    assert response.headers["ETag"] == f'"{body["version"]}"'
    return body["version"], body["bar"]


def test_the_version_changes_when_a_partner_note_syncs_and_not_otherwise(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    client = page_client(app, Permission.OUTSOURCE)
    version, bar = _live(client, ticket_id)
    assert '<section class="outsource-bar"' in bar and 'data-status="accepted"' in bar

    sync(app)  # a round with nothing new from the partner
    assert _live(client, ticket_id)[0] == version
    unchanged = client.get(f"/outsource/tickets/{ticket_id}/live", headers={"If-None-Match": f'"{version}"'})
    assert unchanged.status_code == 304 and unchanged.get_data() == b""

    memory_partner(app, partner_id).add_entry(uid, EntryKind.NOTE, {"text": "on site now", "internal": False})
    sync(app)
    changed, _ = _live(client, ticket_id)
    assert changed != version
    again = client.get(f"/outsource/tickets/{ticket_id}/live", headers={"If-None-Match": f'"{version}"'})
    assert again.status_code == 200 and again.get_json()["version"] == changed


def test_a_ticket_never_outsourced_has_a_version_and_an_empty_bar(app: Flask, ticket_id: str) -> None:
    version, bar = _live(page_client(app, Permission.OUTSOURCE), ticket_id)
    assert version and bar == ""


def test_nothing_is_answered_to_a_caller_who_cannot_see_the_ticket(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    accepted(app, api, ticket_id, partner_id)
    anonymous = app.test_client().get(f"/outsource/tickets/{ticket_id}/live")
    assert anonymous.status_code == 401 and "ETag" not in anonymous.headers
    assert b"version" not in anonymous.get_data() and b"outsource-bar" not in anonymous.get_data()
    missing = page_client(app, Permission.OUTSOURCE).get("/outsource/tickets/999999/live")
    assert missing.status_code == 404 and "ETag" not in missing.headers
    # below Allow Outsourcing the bar says only what the ticket page's bar says: no links, no sync line
    _, bar = _live(page_client(app, Permission.NONE), ticket_id)
    assert 'data-status="accepted"' in bar and "View Terms" not in bar and "ob-sync-line" not in bar


def test_the_bar_names_its_live_answer_and_interval_unless_live_updates_are_off(
    app: Flask, api: Api, ticket_id: str, partner_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted(app, api, ticket_id, partner_id)
    client = page_client(app, Permission.OUTSOURCE)
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert f'data-live-url="/outsource/tickets/{ticket_id}/live"' in page
    assert 'data-live-interval="4.0"' in page and 'src="/outsource/static/outsource/live.js"' in page
    with client.get("/outsource/static/outsource/live.js") as script:
        assert script.status_code == 200 and b"outsource:changed" in script.get_data()
    with app.app_context():
        monkeypatch.setitem(current_outsource().config, "OUTSOURCE_LIVE_INTERVAL", 0)
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert "data-live-url" not in page and "live.js" not in page


def _page_version(client: FlaskClient, ticket_id: str) -> str:
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    found = re.search(r'data-live-version="(\w+)"', page)
    assert found is not None, page
    return found.group(1)


def test_the_page_holds_the_version_its_live_answer_gives_until_the_ticket_changes(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    """The page reads its version from the rows its bar shares, the live answer with one small query:
    the same token, or every open page would redraw on its first poll."""
    uid = accepted(app, api, ticket_id, partner_id)
    client = page_client(app, Permission.OUTSOURCE)
    assert _page_version(client, ticket_id) == _live(client, ticket_id)[0]
    memory_partner(app, partner_id).add_entry(uid, EntryKind.NOTE, {"text": "on site now", "internal": False})
    before = _page_version(client, ticket_id)
    sync(app)
    after = _page_version(client, ticket_id)
    assert after != before and after == _live(client, ticket_id)[0]
