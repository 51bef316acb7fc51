"""A partner's entries on a lead host whose replies have no internal flag (issue 15, items 2 and 6).

Under ``partner_entries="held"`` nothing the partner sends reaches the host's replies, which the
requester reads: notes, internal notes and time are kept on the plugin's side and shown in its
panel and entries JSON, with the partner's person as the author. Under ``"public"`` they are
written as they are. Either way the partner's hours count in the completion charge.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from outsource_plugin.blueprints.fragments import outsource_bar
from outsource_plugin.db.models import Engagement
from outsource_plugin.host.entries import EntryKind, from_wire
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from outsource_plugin.sync.reconcile import reconcile_and_commit, syncing_engagements
from outsource_plugin.workflow import Action
from tests.conftest import LEVELS, Api, fresh_database
from tests.outsource_plugin.engagement_helpers import engagement_id, sync
from tests.outsource_plugin.host.plain_desk import SYSTEM_USER_ID, Expense
from tests.outsource_plugin.sync.plain_app import db, new_issue, partner_id, plain_app, replies, reset
from tests.outsource_plugin.sync_rule_helpers import Link, lead_link

TIME = {"work_date": "2026-11-26", "hours": "1.5", "resource": "Pat", "summary": "replaced the fuser"}
AUTHOR = "partner user (Contoso)"


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Flask]]:
    """One plain lead host per policy, each on a database of its own."""
    made: dict[str, Flask] = {}
    with (
        fresh_database(tmp_path_factory.mktemp("held")) as held_url,
        fresh_database(tmp_path_factory.mktemp("public")) as public_url,
    ):
        made["held"] = plain_app(held_url, tmp_path_factory.mktemp("held-instance"), "held")
        made["public"] = plain_app(public_url, tmp_path_factory.mktemp("public-instance"), "public")
        yield made
        for app in made.values():
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def linked(app: Flask) -> Link:
    """The plain host outsources a new issue at 80 an hour; the memory partner accepts."""
    reset(app)
    return lead_link(app, Api(app.test_client()), new_issue(app), partner_id(app), outsource_rate="80")


def entries_json(link: Link, level: Permission = Permission.OUTSOURCE) -> list[dict[str, object]]:
    response = link.api.get(f"/engagements/{engagement_id(link.app, link.uid)}/entries", level)
    assert response.status_code == 200, response.get_json()
    return list(response.get_json()["entries"])


def panel(link: Link, level: Permission = Permission.OUTSOURCE) -> str:
    with link.app.test_request_context(headers={"Authorization": f"Bearer {LEVELS[level]}"}):
        return str(outsource_bar(link.ticket_id))


def completed_charge(link: Link) -> Decimal:
    """The partner submits, the lead approves: the "Outsourcing cost" charge's price."""
    link.partner.act(link.uid, Action.SUBMIT)
    sync(link.app)
    link.act("approve")
    with link.app.app_context():
        charge = db.session.scalars(select(Expense).where(Expense.label.startswith("Outsourcing cost"))).one()
        return Decimal(charge.price)


def test_held_partner_entries_never_reach_the_replies(apps: dict[str, Flask]) -> None:
    link = linked(apps["held"])
    link.arrive("note", {"text": "On site at nine"})
    link.arrive("note", {"text": "Customer is difficult", "internal": True})
    link.arrive("time", TIME)
    assert replies(link.app, link.ticket_id) == []

    shown = {entry["kind"]: entry for entry in entries_json(link) if entry["kind"] != "note"}
    notes = [entry for entry in entries_json(link) if entry["kind"] == "note"]
    assert [(n["values"]["text"], n["author"], n["held"]) for n in notes] == [  # type: ignore[index]
        ("On site at nine", AUTHOR, True),
        ("Customer is difficult", AUTHOR, True),
    ]
    assert shown["time"]["values"] == {**TIME, "hours": "1.50"}
    html = panel(link)
    for text in ("On site at nine", "Customer is difficult", "Time: 1.50 h on 2026-11-26 by Pat", AUTHOR):
        assert text in html


def test_held_entries_keep_syncing(apps: dict[str, Flask]) -> None:
    link = linked(apps["held"])
    key = link.arrive("note", {"text": "draft"})
    gone = link.arrive("note", {"text": "to be deleted"})
    link.arrive("note", {"text": "edited by the partner"}, key=key)
    link.arrive("note", {}, key=gone, op="delete")
    assert [entry["values"]["text"] for entry in entries_json(link)] == ["edited by the partner"]  # type: ignore[index]
    assert "to be deleted" not in panel(link)
    assert replies(link.app, link.ticket_id) == []


def test_held_entries_need_allow_outsourcing(apps: dict[str, Flask]) -> None:
    link = linked(apps["held"])
    link.arrive("note", {"text": "Customer is difficult", "internal": True})
    assert link.api.get(f"/engagements/{engagement_id(link.app, link.uid)}/entries", Permission.NONE).status_code == 403
    assert "Customer is difficult" not in panel(link, Permission.NONE)


def test_public_partner_entries_land_in_the_replies(apps: dict[str, Flask]) -> None:
    link = linked(apps["public"])
    link.arrive("note", {"text": "On site at nine"})
    link.arrive("note", {"text": "Customer is difficult", "internal": True})
    link.arrive("time", TIME)
    rows = replies(link.app, link.ticket_id)
    assert [row.body for row in rows[:2]] == ["On site at nine", "Customer is difficult"]
    assert rows[2].body.startswith("Time entry by Pat on 2026-11-26: 1.50 h")
    # the author map writes the system user; the partner's person is kept on the plugin's side
    assert {row.user_id for row in rows} == {SYSTEM_USER_ID}
    assert [entry["author"] for entry in entries_json(link)] == [AUTHOR] * 3
    assert all(entry["held"] is False for entry in entries_json(link))


def test_public_time_lands_in_the_hours_column_and_counts_in_the_charge(apps: dict[str, Flask]) -> None:
    link = linked(apps["public"])
    key = link.arrive("time", TIME)
    link.arrive("time", {**TIME, "hours": "2.25"}, key=key)
    link.arrive("note", {"text": "no time in this one"})
    assert [row.hours for row in replies(link.app, link.ticket_id)] == [Decimal("2.25"), None]
    assert completed_charge(link) == Decimal("180.00")


def test_held_time_counts_in_the_charge(apps: dict[str, Flask]) -> None:
    link = linked(apps["held"])
    link.arrive("time", TIME)
    link.arrive("time", {**TIME, "hours": "0.5"})
    assert completed_charge(link) == Decimal("160.00")
    with link.app.app_context():
        assert db.session.scalars(select(Engagement.status)).one().value == "complete"


def test_reconciliation_finds_held_entries_in_step(apps: dict[str, Flask]) -> None:
    link = linked(apps["held"])
    link.partner.add_entry(link.uid, EntryKind.NOTE, {"text": "On site at nine"})
    link.partner.add_entry(link.uid, EntryKind.TIME, {**from_wire(EntryKind.TIME, TIME), "hours": Decimal("1.50")})
    sync(link.app)
    with link.app.app_context():
        state = current_outsource()
        report = reconcile_and_commit(state, syncing_engagements(state))
    assert report.checked == 1
    assert report.drifts == []
