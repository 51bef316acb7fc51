"""CSRF, permissions and escaping on the plugin's pages."""

from __future__ import annotations

from flask import Flask

from examples.helpdesk.models import Note, db
from outsource_plugin.db.models import Partner
from outsource_plugin.permissions import Permission
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket, engagement_status
from tests.blueprints.page_helpers import html, menu_actions, page_client, post

P = "/outsource"
XSS = "<script>alert(1)</script>"


def test_a_post_without_or_with_a_wrong_token_is_refused(app: Flask, ticket_id: str, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.UNSENT, ticket_id=ticket_id)
    client = page_client(app, Permission.OUTSOURCE)
    missing = post(client, f"{P}/engagements/{engagement_id}/actions/send", status=400, token=False)
    assert "security token is missing or out of date" in missing.get_data(as_text=True)
    post(client, f"{P}/engagements/{engagement_id}/actions/send", {"csrf_token": "forged"}, status=400, token=False)
    assert engagement_status(app, engagement_id) is Status.UNSENT


def test_viewer_sees_the_bar_but_no_menu_and_is_refused(app: Flask, ticket_id: str, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.ASSIGNED, ticket_id=ticket_id)
    client = page_client(app, Permission.NONE)
    page = html(client, f"/tickets/{ticket_id}")
    assert "outsource-bar" in page and menu_actions(page) == [] and "outsource-menu" not in page
    for path in (f"/engagements/{engagement_id}", f"/engagements/{engagement_id}/actions/cancel"):
        html(client, P + path, status=403)
    refused = post(client, f"{P}/engagements/{engagement_id}/actions/cancel", status=403)
    assert "Allow Outsourcing" in refused.get_data(as_text=True)
    post(client, f"{P}/tickets/{ticket_id}/outsource", {"partner_id": str(partner_id)}, status=403)
    assert engagement_status(app, engagement_id) is Status.ASSIGNED


def test_signed_out_is_refused(app: Flask, ticket_id: str) -> None:
    assert app.test_client().get(f"{P}/tickets/{ticket_id}/outsource").status_code == 401


def test_partner_text_is_escaped_everywhere(app: Flask, partner_id: int) -> None:
    with app.app_context():
        partner = db.session.get(Partner, partner_id)
        partner.name = f"Evil {XSS}"
        db.session.commit()
    ticket_id = add_ticket(app, title=XSS)
    engagement_id = add_engagement(
        app,
        partner_id,
        status=Status.ASSIGNED,
        role=Side.SERVICE,
        terms={"instructions": XSS, "complete_by": "2030-01-01"},
    )
    lead = add_engagement(app, partner_id, status=Status.IN_PROGRESS, ticket_id=ticket_id)
    with app.app_context():
        db.session.add(Note(ticket_id=int(ticket_id), author=XSS, body=XSS, internal=True))
        db.session.commit()
    client = page_client(app, Permission.ALL)
    for path in (
        f"{P}/engagements/{engagement_id}",
        f"{P}/engagements/{lead}/terms",
        f"{P}/dashboard?role=service&folder=waiting_acceptance",
        f"{P}/partners",
        f"{P}/partners/{partner_id}",
        f"/tickets/{ticket_id}",
    ):
        page = html(client, path)
        assert XSS not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
