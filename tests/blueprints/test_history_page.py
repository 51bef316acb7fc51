"""The engagement's history page: who did what, when and why, read from the audit log."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.db.models import AuditEvent, Engagement, utcnow
from outsource_plugin.permissions import Permission
from outsource_plugin.workflow import Action, Side, Status
from tests.blueprints.api_helpers import add_engagement
from tests.blueprints.page_helpers import html, page_client, post

P = "/outsource"


def _rows(page: str) -> list[str]:
    table = re.search(r'<table class="op-table" id="history-table">.*?</table>', page, re.S)
    assert table is not None, page
    return re.findall(r"<tr data-action=.*?</tr>", table.group(0), re.S)


def _event(
    app: Flask,
    engagement_id: int,
    who: tuple[str, Side],
    action: Action,
    change: tuple[Status, Status],
    reason: str | None,
    at: datetime | None = None,
) -> None:
    """An audit event as the workflow writes it: ``who`` is the actor and the side that acted."""
    with app.app_context():
        engagement = db.session.get(Engagement, engagement_id)
        db.session.add(
            AuditEvent(
                engagement_uid=engagement.uid,
                ticket_id=engagement.ticket_id,
                actor=who[0],
                side=who[1],
                action=action,
                from_status=change[0],
                to_status=change[1],
                reason=reason,
                at=at or utcnow(),
            )
        )
        db.session.commit()


def test_the_history_lists_each_event_with_who_when_what_and_why(app: Flask, ticket_id: str, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.WAITING_APPROVAL, ticket_id=ticket_id)
    _event(
        app,
        engagement_id,
        ("Jo Partner", Side.SERVICE),
        Action.SUBMIT,
        (Status.IN_PROGRESS, Status.WAITING_APPROVAL),
        None,
        datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc),
    )
    client = page_client(app, Permission.OUTSOURCE)
    post(client, f"{P}/engagements/{engagement_id}/actions/reject", {"reason": "Photos missing"})
    page = html(client, f"{P}/engagements/{engagement_id}/history")
    assert "History of ticket T" in page and "Contoso" in page
    submitted, rejected = _rows(page)
    assert "2026-03-04 09:30 UTC" in submitted and "Jo Partner (Contoso)" in submitted
    assert "Submitted for approval" in submitted and "In Progress → Waiting Approval" in submitted
    assert "Tech" in rejected and "Rejected" in rejected and "Photos missing" in rejected
    assert "Waiting Approval → In Progress" in rejected
    assert f'href="{P}/engagements/{engagement_id}/terms"' in page


def test_system_events_and_status_less_events_read_as_words(app: Flask, ticket_id: str, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.DECLINED, ticket_id=ticket_id)
    for who, action, change, reason in (
        (("system", Side.SYSTEM), Action.AUTO_DECLINE, (Status.ASSIGNED, Status.DECLINED), "not accepted in 24 h"),
        (("system", Side.LEAD), Action.REPAIR, (Status.DECLINED, Status.DECLINED), "a note was sent again"),
    ):
        _event(app, engagement_id, who, action, change, reason)
    declined, repaired = _rows(html(page_client(app, Permission.OUTSOURCE), f"{P}/engagements/{engagement_id}/history"))
    assert "Automatically declined" in declined and "Assigned → Declined" in declined
    assert "not accepted in 24 h" in declined and "system" in declined.lower()
    assert "Repaired by reconciliation" in repaired and "→" not in repaired


def test_partner_text_is_escaped(app: Flask, ticket_id: str, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.DECLINED, ticket_id=ticket_id)
    mallory, script = ("<b>Mallory</b>", Side.SERVICE), "<script>alert(1)</script>"
    _event(app, engagement_id, mallory, Action.DECLINE, (Status.ASSIGNED, Status.DECLINED), script)
    page = html(page_client(app, Permission.OUTSOURCE), f"{P}/engagements/{engagement_id}/history")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>Mallory</b>" not in page and "&lt;b&gt;Mallory&lt;/b&gt;" in page


def test_the_history_needs_allow_outsourcing_and_an_existing_engagement(
    app: Flask, ticket_id: str, partner_id: int
) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.ASSIGNED, ticket_id=ticket_id)
    html(page_client(app, Permission.NONE), f"{P}/engagements/{engagement_id}/history", status=403)
    html(app.test_client(), f"{P}/engagements/{engagement_id}/history", status=401)
    html(page_client(app, Permission.OUTSOURCE), f"{P}/engagements/{engagement_id + 1}/history", status=404)


def test_an_engagement_without_events_says_so(app: Flask, ticket_id: str, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.ASSIGNED, ticket_id=ticket_id)
    page = html(page_client(app, Permission.OUTSOURCE), f"{P}/engagements/{engagement_id}/history")
    assert _rows(page) == [] and "Nothing has been recorded yet" in page
