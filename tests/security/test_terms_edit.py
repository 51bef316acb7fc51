"""Editing an Unsent engagement's terms: stored dates survive an edit, and an emptied field
clears its term, through the JSON API and the terms page alike (issue 13, items 3 and 4)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.db.models import Engagement, Partner
from outsource_plugin.permissions import Permission
from tests.blueprints.page_helpers import page_client, post
from tests.conftest import Api
from tests.security.helpers import COUNTS

TERMS = {"complete_by": "2026-12-24", "instructions": "Call first", "authorised_hours": "8.00", "acceptance_hours": 12}
CASES = {"edit_with_date": 0, "cleared_terms": 0}


@pytest.fixture(scope="module", autouse=True)
def summary() -> Any:
    yield
    COUNTS.update(terms_edits_with_date=CASES["edit_with_date"], terms_cleared=CASES["cleared_terms"])


@pytest.fixture
def unsent(app: Flask, api: Api, ticket_id: str, partner_id: int) -> int:
    """An Unsent engagement whose stored terms hold a complete-by date."""
    response = api.post(f"/tickets/{ticket_id}/outsource", {"partner_id": partner_id, "terms": TERMS})
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["engagement"]["id"])


def _stored(app: Flask, engagement_id: int) -> dict[str, Any]:
    with app.app_context():
        terms = dict(db.session.get(Engagement, engagement_id).terms)
        db.session.rollback()
        return terms


@pytest.mark.parametrize("level", [Permission.OUTSOURCE, Permission.ALL], ids=lambda p: p.name)
def test_api_edit_keeps_a_stored_complete_by_date(
    app: Flask, api: Api, ticket_id: str, unsent: int, level: Permission
) -> None:
    response = api.patch(f"/tickets/{ticket_id}/outsource", {"terms": {"instructions": "hello"}}, level=level)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert _stored(app, unsent) == {**TERMS, "instructions": "hello"}
    CASES["edit_with_date"] += 1


def test_page_edit_keeps_a_stored_complete_by_date(app: Flask, ticket_id: str, partner_id: int, unsent: int) -> None:
    client = page_client(app, Permission.OUTSOURCE)
    form = {"partner_id": str(partner_id), **{k: str(v) for k, v in TERMS.items()}, "instructions": "hello"}
    post(client, f"/outsource/tickets/{ticket_id}/outsource", form)
    assert _stored(app, unsent) == {**TERMS, "instructions": "hello"}
    CASES["edit_with_date"] += 1


@pytest.mark.parametrize("field", sorted(TERMS))
def test_api_null_clears_a_term(app: Flask, api: Api, ticket_id: str, unsent: int, field: str) -> None:
    response = api.patch(f"/tickets/{ticket_id}/outsource", {"terms": {field: None}}, level=Permission.OUTSOURCE)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert field not in response.get_json()["engagement"]["terms"]
    assert _stored(app, unsent) == {k: v for k, v in TERMS.items() if k != field}
    CASES["cleared_terms"] += 1


@pytest.mark.parametrize("field", sorted(TERMS))
def test_page_emptied_field_clears_a_term(app: Flask, ticket_id: str, partner_id: int, unsent: int, field: str) -> None:
    client = page_client(app, Permission.OUTSOURCE)
    form = {"partner_id": str(partner_id), **{k: str(v) for k, v in TERMS.items()}, field: ""}
    post(client, f"/outsource/tickets/{ticket_id}/outsource", form)
    assert _stored(app, unsent) == {k: v for k, v in TERMS.items() if k != field}
    CASES["cleared_terms"] += 1


def test_api_empty_instructions_clear_them(app: Flask, api: Api, ticket_id: str, unsent: int) -> None:
    response = api.patch(f"/tickets/{ticket_id}/outsource", {"terms": {"instructions": "  "}})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "instructions" not in _stored(app, unsent)
    CASES["cleared_terms"] += 1


def test_partner_page_emptied_default_clears_it_and_keeps_hidden_figures(app: Flask, partner_id: int) -> None:
    """A manager's page edit of a partner's defaults: an emptied field clears that default, and
    the financial defaults the manager cannot see stay as they were."""
    with app.app_context():
        partner = db.session.get(Partner, partner_id)
        partner.default_terms = {"instructions": "Call first", "acceptance_hours": 24, "bill_rate": "99.00"}
        db.session.commit()
    client = page_client(app, Permission.PARTNER_MANAGEMENT)
    form = {"name": "Contoso", "active": "on", "terms.instructions": "", "terms.acceptance_hours": "24"}
    post(client, f"/outsource/partners/{partner_id}", form)
    with app.app_context():
        assert db.session.get(Partner, partner_id).default_terms == {"acceptance_hours": 24, "bill_rate": "99.00"}
    CASES["cleared_terms"] += 1
