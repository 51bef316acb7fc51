"""The blue bar as each reader sees it: a technician's one sync line, the operator figures for
partner managers, no duplicate lead ticket on the service side, and links to the terms and history."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.db.models import Engagement, MessageKind, MessageState, OutboxMessage, Partner, utcnow
from outsource_plugin.permissions import Permission
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket
from tests.blueprints.page_helpers import html, page_client
from tests.statements import statements

P = "/outsource"
#: what a raw sync error can hold: a class name, a URL with a password, a traceback
RAW_ERROR = "ConnectionError: HTTPSConnectionPool(host='https://bot:s3cret@rt.contoso.example/REST') Traceback"


def _bar(page: str) -> str:
    found = re.search(r'<section class="outsource-bar".*?</section>\s*$', page, re.S | re.M)
    assert found is not None, page
    return found.group(0)


def _synced(app: Flask, engagement_id: int, minutes: int) -> None:
    with app.app_context():
        db.session.get(Engagement, engagement_id).last_sync_at = utcnow() - timedelta(minutes=minutes, seconds=5)
        db.session.commit()


def test_a_technician_sees_when_it_last_synced_and_no_operator_figures(
    app: Flask, ticket_id: str, partner_id: int
) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.IN_PROGRESS, ticket_id=ticket_id)
    _synced(app, engagement_id, 2)
    tech = _bar(html(page_client(app, Permission.OUTSOURCE), f"/tickets/{ticket_id}"))
    assert "Synced 2 minutes ago" in tech
    assert "ob-health" not in tech and "pending" not in tech and "lag" not in tech
    manager = _bar(html(page_client(app, Permission.PARTNER_MANAGEMENT), f"/tickets/{ticket_id}"))
    assert "Synced 2 minutes ago" in manager
    assert 'class="ob-health"' in manager and "0 pending" in manager and "0 dead" in manager


def test_a_technician_sees_a_sync_problem_in_plain_words(app: Flask, ticket_id: str, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.IN_PROGRESS, ticket_id=ticket_id)
    _synced(app, engagement_id, 5)
    with app.app_context():
        engagement = db.session.get(Engagement, engagement_id)
        engagement.last_sync_error = RAW_ERROR
        db.session.get(Partner, partner_id).last_poll_error = RAW_ERROR
        db.session.add(
            OutboxMessage(
                partner_id=partner_id,
                seq=1,
                engagement_uid=engagement.uid,
                kind=MessageKind.ACTION,
                payload={"action": "reject"},
                state=MessageState.DEAD,
                attempts=12,
                last_error=RAW_ERROR,
            )
        )
        db.session.commit()
    tech = _bar(html(page_client(app, Permission.OUTSOURCE), f"/tickets/{ticket_id}"))
    problem = re.search(r'<dd class="ob-sync-line ob-sync-problem">(.*?)</dd>', tech, re.S)
    assert problem is not None, tech
    words = problem.group(1)
    assert words.startswith("Sync problem: ")
    assert "1 change could not be sent to Contoso" in words
    assert "updates from Contoso are not coming through" in words
    assert "Synced" not in tech
    for secret in ("s3cret", "https://", "Traceback", "ConnectionError", "HTTPSConnectionPool"):
        assert secret not in tech
    # the operator sees the recorded errors and where the failed delivery can be resent
    manager = _bar(html(page_client(app, Permission.PARTNER_MANAGEMENT), f"/tickets/{ticket_id}"))
    assert "ConnectionError" in manager and f'href="{P}/deadletters"' in manager


def test_the_service_side_names_the_lead_ticket_once(app: Flask, partner_id: int) -> None:
    ticket_id = add_ticket(app)
    add_engagement(app, partner_id, status=Status.IN_PROGRESS, role=Side.SERVICE, ticket_id=ticket_id)
    for level in (Permission.NONE, Permission.OUTSOURCE, Permission.ALL):
        bar = _bar(html(page_client(app, level), f"/tickets/{ticket_id}"))
        assert bar.count("Lead ticket") == 1, (level, bar)
        assert "L-7" in bar


def test_the_bar_links_to_the_terms_and_the_history_for_those_who_may_open_them(
    app: Flask, ticket_id: str, partner_id: int
) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.ASSIGNED, ticket_id=ticket_id)
    terms, history = f"{P}/engagements/{engagement_id}/terms", f"{P}/engagements/{engagement_id}/history"
    tech = page_client(app, Permission.OUTSOURCE)
    bar = _bar(html(tech, f"/tickets/{ticket_id}"))
    assert f'href="{terms}">View Terms</a>' in bar and f'href="{history}">History</a>' in bar
    assert "Terms for Contoso" in html(tech, terms)
    assert "History" in html(tech, history)
    viewer = page_client(app, Permission.NONE)
    bar = _bar(html(viewer, f"/tickets/{ticket_id}"))
    assert terms not in bar and history not in bar and "Outsourced to Contoso" in bar
    html(viewer, terms, status=403)
    html(viewer, history, status=403)


def test_a_sent_engagement_not_yet_synced_says_so(app: Flask, ticket_id: str, partner_id: int) -> None:
    add_engagement(app, partner_id, status=Status.ASSIGNED, ticket_id=ticket_id)
    tech = _bar(html(page_client(app, Permission.OUTSOURCE), f"/tickets/{ticket_id}"))
    assert "Not synced yet" in tech


def test_the_ticket_page_reads_the_plugin_tables_in_three_statements(app: Flask, partner_id: int) -> None:
    """The bar, the menu, the entries' origins, the bar's live version and its held entries share one
    read of the ticket's engagements and links; the badge's counts and the bar's outbox figures are the
    other two (issue 18, target 4: the ticket page's p95 at a million engagements)."""
    ticket = add_ticket(app)
    add_engagement(app, partner_id, status=Status.IN_PROGRESS, ticket_id=ticket)
    client = page_client(app, Permission.PARTNER_MANAGEMENT)
    with app.app_context(), statements() as ran:
        page = html(client, f"/tickets/{ticket}")
    assert "outsource-bar" in page and "Outsource" in page and "data-live-url" in page
    engagement_reads = [s for s in ran if s.startswith("SELECT outsource_engagement.id, outsource_engagement.uid")]
    assert len(engagement_reads) == 1, engagement_reads
    plugin = [s for s in ran if s.startswith("SELECT") and "FROM outsource_" in s]
    assert len(plugin) <= 3, plugin
    assert len([s for s in ran if s.startswith("SELECT")]) <= 9, ran
