"""The ticket pages with Flask's test client: Outsource Ticket, View Terms, actions, offers, questions."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from examples.helpdesk.models import Customer, Note, Ticket, db
from outsource_plugin import signals
from outsource_plugin.db.models import Engagement, Partner, utcnow
from outsource_plugin.permissions import Permission
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket, engagement_status
from tests.blueprints.page_helpers import html, menu_actions, page_client, post

P = "/outsource"


def test_menu_on_a_fresh_ticket_offers_outsource_ticket_only(app: Flask, ticket_id: str) -> None:
    page = html(page_client(app, Permission.OUTSOURCE), f"/tickets/{ticket_id}")
    assert menu_actions(page) == ["configure"]
    assert f'href="{P}/tickets/{ticket_id}/outsource"' in page
    assert "/outsource/static/outsource/outsource.css" in page


def test_choose_partner_lists_recently_used_first_and_searches(app: Flask, ticket_id: str) -> None:
    with app.app_context():
        db.session.add(Partner(name="Fabrikam", adapter="memory", config={}, default_terms={}, last_used_at=utcnow()))
        db.session.add(Partner(name="Adatum", adapter="memory", config={}, default_terms={}))
        db.session.add(Partner(name="Old Co", adapter="memory", config={}, default_terms={}, active=False))
        db.session.commit()
    client = page_client(app, Permission.OUTSOURCE)
    page = html(client, f"{P}/tickets/{ticket_id}/outsource")
    assert page.index("Fabrikam") < page.index("Adatum") < page.index("Contoso")
    assert "Old Co" not in page
    found = html(client, f"{P}/tickets/{ticket_id}/outsource?q=fab")
    assert "Fabrikam" in found and "Adatum" not in found


def test_save_leaves_unsent_then_outsource_sends(app: Flask, ticket_id: str, partner_id: int) -> None:
    client = page_client(app, Permission.ALL)
    form = html(client, f"{P}/tickets/{ticket_id}/outsource?partner_id={partner_id}")
    assert 'value="24"' in form  # the partner's default acceptance hours
    response = post(
        client,
        f"{P}/tickets/{ticket_id}/outsource",
        {"partner_id": str(partner_id), "outsource_rate": "75", "instructions": "Ring first", "rate_type": "hourly"},
    )
    with app.app_context():
        engagement = db.session.scalars(select(Engagement)).one()
        assert engagement.status is Status.UNSENT
        assert engagement.terms["instructions"] == "Ring first"
        assert engagement.terms["outsource_rate"] == "75.00"
        engagement_id = engagement.id
    assert response.headers["Location"].endswith(f"{P}/engagements/{engagement_id}/terms")
    terms = html(client, f"{P}/engagements/{engagement_id}/terms")
    assert "Ring first" in terms and "75.00" in terms and 'id="outsource-send"' in terms
    assert menu_actions(html(client, f"/tickets/{ticket_id}")) == ["edit", "send", "remove"]
    post(client, f"{P}/engagements/{engagement_id}/actions/send")
    assert engagement_status(app, engagement_id) is Status.ASSIGNED
    page = html(client, f"/tickets/{ticket_id}")
    assert menu_actions(page) == ["cancel"]
    assert 'data-status="assigned"' in page


def test_terms_form_errors_are_shown_on_the_form(app: Flask, ticket_id: str, partner_id: int) -> None:
    client = page_client(app, Permission.ALL)
    response = post(
        client,
        f"{P}/tickets/{ticket_id}/outsource",
        {"partner_id": str(partner_id), "outsource_rate": "lots", "acceptance_hours": "2"},
        status=400,
    )
    text = response.get_data(as_text=True)
    assert "must be an amount of money" in text and 'value="lots"' in text


def test_tech_does_not_see_or_set_financial_terms(app: Flask, ticket_id: str, partner_id: int) -> None:
    client = page_client(app, Permission.OUTSOURCE)
    form = html(client, f"{P}/tickets/{ticket_id}/outsource?partner_id={partner_id}")
    assert "outsource_rate" not in form and "Authorised hours" in form
    post(client, f"{P}/tickets/{ticket_id}/outsource", {"partner_id": str(partner_id), "outsource_rate": "9"})
    with app.app_context():
        assert "outsource_rate" not in db.session.scalars(select(Engagement)).one().terms


def test_reject_needs_a_reason_and_approve_completes(app: Flask, ticket_id: str, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.WAITING_APPROVAL, ticket_id=ticket_id)
    client = page_client(app, Permission.OUTSOURCE)
    assert menu_actions(html(client, f"/tickets/{ticket_id}")) == ["approve", "reject"]
    form = html(client, f"{P}/engagements/{engagement_id}/actions/reject")
    assert 'name="reason"' in form and "required" in form
    refused = post(client, f"{P}/engagements/{engagement_id}/actions/reject", {"reason": " "}, status=400)
    assert "Give a reason" in refused.get_data(as_text=True)
    post(client, f"{P}/engagements/{engagement_id}/actions/reject", {"reason": "Photos missing"})
    assert engagement_status(app, engagement_id) is Status.IN_PROGRESS
    post(client, f"{P}/engagements/{engagement_id}/actions/complete")
    assert engagement_status(app, engagement_id) is Status.COMPLETE
    assert menu_actions(html(client, f"/tickets/{ticket_id}")) == []


def test_an_action_the_table_refuses_is_a_409_page(app: Flask, ticket_id: str, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.ASSIGNED, ticket_id=ticket_id)
    client = page_client(app, Permission.OUTSOURCE)
    page = html(client, f"{P}/engagements/{engagement_id}/actions/approve", status=409)
    assert "not possible while the outsource status is Assigned" in page
    post(client, f"{P}/engagements/{engagement_id}/actions/approve", status=409)
    post(client, f"{P}/engagements/{engagement_id}/actions/start_work", status=404)
    assert engagement_status(app, engagement_id) is Status.ASSIGNED


def test_offer_page_accepts_with_a_customer_on_first_acceptance(app: Flask, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.ASSIGNED, role=Side.SERVICE)
    client = page_client(app, Permission.OUTSOURCE)
    page = html(client, f"{P}/engagements/{engagement_id}")
    assert "Offer from Contoso" in page and "Printer on fire" in page
    assert 'name="customer_ref"' in page and "Acme" in page and 'id="decline-form"' in page
    post(client, f"{P}/engagements/{engagement_id}/actions/accept", {"customer_ref": ""}, status=400)
    with app.app_context():
        acme = str(db.session.scalars(select(Customer)).one().id)
    response = post(client, f"{P}/engagements/{engagement_id}/actions/accept", {"customer_ref": acme})
    with app.app_context():
        engagement = db.session.get(Engagement, engagement_id)
        assert engagement.status is Status.ACCEPTED and engagement.ticket_id
        assert response.headers["Location"].endswith(f"/tickets/{engagement.ticket_id}")
        assert db.session.get(Partner, partner_id).customer_ref == acme
        ticket_id = engagement.ticket_id
    page = html(client, f"/tickets/{ticket_id}")
    assert "Insource details" in page and "L-7" in page
    assert menu_actions(page) == ["submit"] and 'data-action="question"' in page


def test_decline_needs_a_reason(app: Flask, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.ASSIGNED, role=Side.SERVICE)
    client = page_client(app, Permission.OUTSOURCE)
    post(client, f"{P}/engagements/{engagement_id}/actions/decline", {"reason": ""}, status=400)
    post(client, f"{P}/engagements/{engagement_id}/actions/decline", {"reason": "No capacity"})
    assert engagement_status(app, engagement_id) is Status.DECLINED


def test_ask_a_question_adds_a_note_and_signals(app: Flask, partner_id: int) -> None:
    ticket_id = add_ticket(app)
    engagement_id = add_engagement(app, partner_id, status=Status.IN_PROGRESS, role=Side.SERVICE, ticket_id=ticket_id)
    heard: list[dict[str, object]] = []

    def listener(sender: object, **kw: object) -> None:
        heard.append(kw)

    signals.question_asked.connect(listener)
    try:
        client = page_client(app, Permission.OUTSOURCE)
        assert 'id="question-form"' in html(client, f"{P}/engagements/{engagement_id}/question")
        post(client, f"{P}/engagements/{engagement_id}/question", {"text": "Which door?"})
    finally:
        signals.question_asked.disconnect(listener)
    with app.app_context():
        note = db.session.scalars(select(Note).where(Note.ticket_id == int(ticket_id))).one()
        assert note.body == "Question: Which door?" and not note.internal
    assert heard and heard[0]["text"] == "Question: Which door?"


def test_question_refused_on_the_lead_side(app: Flask, ticket_id: str, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.IN_PROGRESS, ticket_id=ticket_id)
    client = page_client(app, Permission.OUTSOURCE)
    html(client, f"{P}/engagements/{engagement_id}/question", status=409)
    post(client, f"{P}/engagements/{engagement_id}/question", {"text": "Hi"}, status=409)


def test_remove_returns_to_the_ticket(app: Flask, ticket_id: str, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.UNSENT, ticket_id=ticket_id)
    client = page_client(app, Permission.OUTSOURCE)
    response = post(client, f"{P}/engagements/{engagement_id}/actions/remove")
    assert response.headers["Location"].endswith(f"/tickets/{ticket_id}")
    assert engagement_status(app, engagement_id) is None


def test_complete_ticket_shows_no_menu_and_refuses_actions(app: Flask, ticket_id: str, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.ASSIGNED, ticket_id=ticket_id)
    with app.app_context():
        db.session.get(Ticket, int(ticket_id)).status = "Complete"
        db.session.commit()
    client = page_client(app, Permission.OUTSOURCE)
    assert menu_actions(html(client, f"/tickets/{ticket_id}")) == []
    post(client, f"{P}/engagements/{engagement_id}/actions/cancel", status=409)


def test_bar_shows_financial_terms_only_to_allow_all(app: Flask, ticket_id: str, partner_id: int) -> None:
    terms = {"outsource_rate": "91.00", "authorised_hours": "5.00", "rate_type": "hourly"}
    add_engagement(app, partner_id, status=Status.IN_PROGRESS, ticket_id=ticket_id, terms=terms)
    everything = html(page_client(app, Permission.ALL), f"/tickets/{ticket_id}")
    assert "rate 91.00/h" in everything and "5.00 h authorised" in everything
    tech = html(page_client(app, Permission.OUTSOURCE), f"/tickets/{ticket_id}")
    assert "91.00" not in tech and "5.00 h authorised" in tech
    viewer = html(page_client(app, Permission.NONE), f"/tickets/{ticket_id}")
    assert "Outsourced to Contoso" in viewer and "authorised" not in viewer and 'data-sync="active"' in viewer


def test_entry_lock_marks_partner_entries_and_suspended_ones(app: Flask, partner_id: int) -> None:
    from outsource_plugin.db.models import EntryLink
    from outsource_plugin.state import current_outsource
    from outsource_plugin.sync.locks import entry_lock

    ticket_id = add_ticket(app)
    engagement_id = add_engagement(app, partner_id, status=Status.IN_PROGRESS, ticket_id=ticket_id)
    with app.test_request_context():
        uid = db.session.get(Engagement, engagement_id).uid
        ours, theirs = (
            Note(ticket_id=int(ticket_id), author="a", body="ours"),
            Note(ticket_id=int(ticket_id), author="b", body="theirs"),
        )
        db.session.add_all([ours, theirs])
        db.session.commit()  # sync is active: each note gets its link, owned by this (the lead) side
        link = db.session.scalars(
            select(EntryLink).where(EntryLink.engagement_uid == uid, EntryLink.local_id == str(theirs.id))
        ).one()
        link.owner = Side.SERVICE  # as if it had arrived from the partner
        db.session.commit()
        state = current_outsource()
        assert entry_lock(state, "note", ours) is None
        assert "came from Contoso" in (entry_lock(state, "note", str(theirs.id)) or "")
        db.session.get(Engagement, engagement_id).status = Status.WAITING_APPROVAL
        db.session.commit()
        assert "waits for approval" in (entry_lock(state, "note", ours) or "")
        db.session.get(Engagement, engagement_id).status = Status.COMPLETE
        db.session.commit()
        assert entry_lock(state, "note", theirs) is None
    page = html(page_client(app, Permission.OUTSOURCE), f"/tickets/{ticket_id}")
    assert 'data-read-only="true"' not in page
