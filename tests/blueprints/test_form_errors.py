"""Form errors beside their field, in words, with what the user typed kept; a reject or decline
without a reason stays on its form. The JSON API answers as before."""

from __future__ import annotations

import re

from flask import Flask

from outsource_plugin.permissions import Permission
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, assert_error, engagement_status
from tests.blueprints.page_helpers import page_client, post
from tests.conftest import Api

P = "/outsource"


def _field(page: str, name: str) -> str:
    """The markup of one form field: its label, its input and what is said beside it."""
    found = re.search(rf'<div class="op-field[^"]*" data-field="{name}">.*?</div>', page, re.S)
    assert found is not None, page
    return found.group(0)


def _save_terms(app: Flask, ticket_id: str, partner_id: int, level: Permission, **terms: str) -> str:
    client = page_client(app, level)
    response = post(client, f"{P}/tickets/{ticket_id}/outsource", {"partner_id": str(partner_id), **terms}, status=400)
    return response.get_data(as_text=True)


def test_a_bad_hours_value_is_explained_beside_its_field_and_kept(app: Flask, ticket_id: str, partner_id: int) -> None:
    page = _save_terms(
        app, ticket_id, partner_id, Permission.OUTSOURCE, authorised_hours="four", instructions="Ring first"
    )
    hours = _field(page, "authorised_hours")
    assert 'value="four"' in hours and 'aria-invalid="true"' in hours
    assert 'aria-describedby="err-authorised_hours"' in hours
    assert "Authorised hours must be a number of hours, like 4 or 2.5" in hours
    assert "Ring first" in _field(page, "instructions") and "op-field-error" not in _field(page, "instructions")
    assert "Not a valid number" not in page


def test_each_kind_of_term_has_its_own_words(app: Flask, ticket_id: str, partner_id: int) -> None:
    page = _save_terms(
        app,
        ticket_id,
        partner_id,
        Permission.ALL,
        outsource_rate="lots",
        complete_by="next friday",
        acceptance_hours="a day",
        rate_type="weekly",
    )
    assert "Outsource rate (per hour) must be an amount of money, like 120 or 99.50" in _field(page, "outsource_rate")
    assert 'value="lots"' in _field(page, "outsource_rate")
    assert "Complete by must be a date, like 2026-12-31" in _field(page, "complete_by")
    assert 'value="next friday"' in _field(page, "complete_by")
    accept = _field(page, "acceptance_hours")
    assert "Hours to accept before auto-decline must be a whole number of hours, like 24" in accept
    assert 'value="a day"' in accept
    assert "Rate type must be Hourly or Flat" in _field(page, "rate_type")


def test_a_value_out_of_range_is_explained_too(app: Flask, ticket_id: str, partner_id: int) -> None:
    page = _save_terms(app, ticket_id, partner_id, Permission.OUTSOURCE, authorised_hours="-3", acceptance_hours="0")
    assert "Authorised hours must be a number of hours, like 4 or 2.5" in _field(page, "authorised_hours")
    assert 'value="-3"' in _field(page, "authorised_hours")
    assert "like 24" in _field(page, "acceptance_hours") and 'value="0"' in _field(page, "acceptance_hours")


def test_a_reject_without_a_reason_stays_on_its_form(app: Flask, ticket_id: str, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.WAITING_APPROVAL, ticket_id=ticket_id)
    client = page_client(app, Permission.OUTSOURCE)
    refused = post(client, f"{P}/engagements/{engagement_id}/actions/reject", {"reason": "  "}, status=400)
    page = refused.get_data(as_text=True)
    assert 'id="action-form"' in page and "That could not be done" not in page
    reason = _field(page, "reason")
    assert "Give a reason: the partner reads it" in reason and 'aria-invalid="true"' in reason
    assert engagement_status(app, engagement_id) is Status.WAITING_APPROVAL


def test_a_decline_without_a_reason_stays_on_the_offer_page(app: Flask, partner_id: int) -> None:
    engagement_id = add_engagement(app, partner_id, status=Status.ASSIGNED, role=Side.SERVICE)
    client = page_client(app, Permission.OUTSOURCE)
    refused = post(
        client, f"{P}/engagements/{engagement_id}/actions/decline", {"reason": "", "form": "offer"}, status=400
    )
    page = refused.get_data(as_text=True)
    assert 'id="decline-form"' in page and "Offer from Contoso" in page
    assert "Give a reason: the partner reads it" in _field(page, "reason")
    # from the menu's decline page, the same: that form again
    refused = post(client, f"{P}/engagements/{engagement_id}/actions/decline", {"reason": ""}, status=400)
    page = refused.get_data(as_text=True)
    assert 'id="action-form"' in page and "Give a reason: the partner reads it" in _field(page, "reason")
    assert engagement_status(app, engagement_id) is Status.ASSIGNED


def test_the_json_api_answers_as_before(api: Api, app: Flask, ticket_id: str, partner_id: int) -> None:
    add_engagement(app, partner_id, status=Status.WAITING_APPROVAL, ticket_id=ticket_id)
    body = assert_error(api.post(f"/tickets/{ticket_id}/outsource/actions", {"action": "reject"}), 400)
    assert body["details"] == {"reason": ["a reason is required"]}
    body = assert_error(
        api.post(f"/tickets/{ticket_id}/outsource", {"partner_id": partner_id, "terms": {"authorised_hours": "x"}}),
        400,
        "validation_failed",
    )
    assert body["details"] == {"terms": {"authorised_hours": ["Not a valid number."]}}
