"""The "Outsourced work" page, the header's ``outsource_nav()`` link, and links that never lead a user to a 403."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert

from examples.helpdesk.models import db
from outsource_plugin import signals
from outsource_plugin.core.status_counts import check
from outsource_plugin.db.models import Engagement, EntryLink, new_id
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.permissions import Permission
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket
from tests.blueprints.page_helpers import html, page_client
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import accepted, sync
from tests.statements import statements

P = "/outsource"
MONEY = {"acceptance_hours": 24, "rate_type": "hourly", "outsource_rate": "87.00", "total_authorised": "4321.00"}


def add_question(app: Flask, engagement_id: int, *, deleted: bool = False) -> None:
    with app.app_context():
        engagement = db.session.get(Engagement, engagement_id)
        db.session.add(
            EntryLink(
                engagement_uid=engagement.uid,
                entry_key=f"service:note:{new_id()}",
                kind="note",
                local_id="1",
                owner=Side.SERVICE,
                sent=True,
                question=True,
                deleted=deleted,
                origin_user="Sam at Contoso",
            )
        )
        db.session.commit()


def waiting_work(app: Flask, partner_id: int) -> dict[str, int]:
    """One item of each kind, and rows that are not this side's open work."""
    ids = {
        "offer": add_engagement(app, partner_id, status=Status.ASSIGNED, role=Side.SERVICE, terms=MONEY),
        "approval": add_engagement(
            app, partner_id, status=Status.WAITING_APPROVAL, ticket_id=add_ticket(app), terms=MONEY
        ),
        "asking": add_engagement(app, partner_id, status=Status.IN_PROGRESS, ticket_id=add_ticket(app)),
    }
    add_question(app, ids["asking"])
    add_question(app, ids["asking"], deleted=True)
    add_engagement(app, partner_id, status=Status.ASSIGNED, ticket_id=add_ticket(app))  # our offer: the partner's work
    add_engagement(app, partner_id, status=Status.WAITING_APPROVAL, role=Side.SERVICE, ticket_id=add_ticket(app))
    add_question(app, add_engagement(app, partner_id, status=Status.COMPLETE, ticket_id=add_ticket(app)))
    return ids


def links(page: str) -> list[str]:
    return sorted(set(re.findall(r'href="(/[^"]*)"', page)) - {f"{P}/static/outsource/outsource.css"})


def assert_all_open(client: FlaskClient, page: str) -> None:
    """Every link of the page opens for this user: none answers 403 (or any error)."""
    for href in links(page):
        answer = client.get(href.replace("&amp;", "&"))
        assert answer.status_code < 400, (href, answer.status_code)


def section(page: str, name: str) -> str:
    found = re.search(rf'<section[^>]*id="work-{name}".*?</section>', page, re.S)
    assert found is not None, name
    return found.group(0)


def test_a_technician_sees_this_sides_open_items_with_counts_and_links(app: Flask, partner_id: int) -> None:
    ids = waiting_work(app, partner_id)
    client = page_client(app, Permission.OUTSOURCE)
    page = html(client, f"{P}/work")
    offers, approvals, questions = (section(page, n) for n in ("offers", "approvals", "questions"))
    assert 'data-count="1"' in offers and f'href="{P}/engagements/{ids["offer"]}"' in offers
    assert "Printer on fire" in offers and "Contoso" in offers
    assert 'data-count="1"' in approvals and f'data-engagement-id="{ids["approval"]}"' in approvals
    assert 'data-count="1"' in questions and f'data-engagement-id="{ids["asking"]}"' in questions
    assert "Sam at Contoso" in questions
    assert_all_open(client, page)


def test_no_financial_figures_below_allow_all(app: Flask, partner_id: int) -> None:
    waiting_work(app, partner_id)
    for level in (Permission.OUTSOURCE, Permission.PARTNER_MANAGEMENT):
        page = html(page_client(app, level), f"{P}/work")
        assert "4321" not in page and "87.00" not in page and "Total authorised" not in page
    page = html(page_client(app, Permission.ALL), f"{P}/work")
    assert page.count("4321.00") == 2 and "Total authorised" in page


def test_below_allow_outsourcing_the_page_is_refused_and_the_header_has_no_link(app: Flask, partner_id: int) -> None:
    waiting_work(app, partner_id)
    client = page_client(app, Permission.NONE)
    html(client, f"{P}/work", status=403)
    index = html(client, "/")
    assert "Outsourced work" not in index and f"{P}/work" not in index


def test_the_header_link_shows_the_count_of_waiting_items(app: Flask, partner_id: int) -> None:
    client = page_client(app, Permission.OUTSOURCE)
    assert re.search(rf'<a class="outsource-nav" href="{P}/work" data-count="0">Outsourced work</a>', html(client, "/"))
    waiting_work(app, partner_id)
    nav = re.search(r'<a class="outsource-nav".*?</a>', html(client, "/"), re.S)
    assert nav is not None and 'data-count="3"' in nav.group(0) and ">3</span>" in nav.group(0)


def test_the_offer_page_leads_a_technician_to_outsourced_work_not_the_dashboard(app: Flask, partner_id: int) -> None:
    ids = waiting_work(app, partner_id)
    client = page_client(app, Permission.OUTSOURCE)
    page = html(client, f"{P}/engagements/{ids['offer']}")
    assert f"{P}/dashboard" not in page and f'href="{P}/work"' in page
    assert_all_open(client, page)
    manager = html(page_client(app, Permission.PARTNER_MANAGEMENT), f"{P}/engagements/{ids['offer']}")
    assert f'href="{P}/dashboard?role=service"' in manager


def test_the_error_page_goes_back_to_a_page_the_user_can_open(app: Flask, partner_id: int) -> None:
    client = page_client(app, Permission.OUTSOURCE)
    page = html(client, f"{P}/dashboard", status=403)
    assert f"{P}/dashboard" not in page and f'<a href="{P}/work">Go back</a>' in page
    assert_all_open(client, page)
    came_from = client.get(f"{P}/dashboard", headers={"Referer": f"http://localhost{P}/dashboard"})
    assert f"{P}/dashboard" not in came_from.get_data(as_text=True)
    viewer = html(page_client(app, Permission.NONE), f"{P}/work", status=403)
    assert "Go back" not in viewer


def test_a_partners_question_reaches_the_leads_outsourced_work(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    heard: list[dict[str, object]] = []

    def listener(sender: object, **kw: object) -> None:
        heard.append(kw)

    memory_partner(app, partner_id).add_entry(uid, EntryKind.NOTE, {"text": "Question: which door?", "author": "Sam"})
    memory_partner(app, partner_id).add_entry(uid, EntryKind.NOTE, {"text": "On my way", "author": "Sam"})
    signals.question_asked.connect(listener)
    try:
        sync(app)
    finally:
        signals.question_asked.disconnect(listener)
    assert [(h["engagement_uid"], h["text"]) for h in heard] == [(uid, "Question: which door?")]
    page = html(page_client(app, Permission.OUTSOURCE), f"{P}/work")
    questions = section(page, "questions")
    assert 'data-count="1"' in questions and f'href="/tickets/{ticket_id}"' in questions


def test_the_header_badge_counts_offers_and_approvals_from_the_kept_counts(app: Flask, partner_id: int) -> None:
    """The badge is on every page: counting the engagements made every page as slow as the largest
    count (issue 18). It reads the maintained per-(role, status) counts, which reconcile checks."""
    waiting_work(app, partner_id)
    client = page_client(app, Permission.OUTSOURCE)
    with app.app_context():
        db.session.execute(
            insert(Engagement),
            [{"uid": new_id(), "role": Side.SERVICE, "status": Status.ASSIGNED, "terms": {}, "partner_id": partner_id}],
        )
        db.session.commit()
        with statements() as ran:
            before_repair = badge(html(client, "/"))
        check(db.session, repair=True)
        db.session.commit()
    assert before_repair == 3  # a row written past the workflow is not counted until reconcile repairs the counts
    assert badge(html(client, "/")) == 4
    assert not [s for s in ran if "count(" in s.lower() and "FROM outsource_engagement" in s]


def test_a_dashboard_page_takes_a_handful_of_statements_and_counts_no_engagements(app: Flask, partner_id: int) -> None:
    waiting_work(app, partner_id)
    client = page_client(app, Permission.PARTNER_MANAGEMENT)
    for role, folder in (("lead", "waiting_approval"), ("service", "waiting_acceptance")):
        for sort in ("-updated", "-created"):
            with app.app_context(), statements() as ran:
                html(client, f"{P}/dashboard?role={role}&folder={folder}&sort={sort}")
            assert len(ran) <= 6, ran
            assert not [s for s in ran if "count(" in s.lower() and "FROM outsource_engagement" in s]


def badge(page: str) -> int:
    nav = re.search(r'<a class="outsource-nav"[^>]*data-count="(\d+)"', page)
    assert nav is not None
    return int(nav.group(1))
