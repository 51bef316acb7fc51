"""Financial terms are shown only with Allow All, wherever the JSON API shows terms.

Every other level sees the engagement's other terms (or, with no
outsourcing permission, only its partner and status), and no financial key
or figure appears anywhere in what it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from examples.helpdesk.models import db
from outsource_plugin.models import Partner
from outsource_plugin.permissions import Permission
from outsource_plugin.schemas import FINANCIAL_TERMS
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket, financial_keys
from tests.conftest import Api

#: distinctive figures, so that a leak shows up even under another key
DEFAULT_TERMS = {
    "rate_type": "hourly",
    "outsource_rate": "7311.37",
    "flat_rate": "9533.59",
    "bill_rate": "8422.48",
    "authorised_hours": "8.00",
    "authorised_charges": "6244.26",
    "total_authorised": "5155.15",
    "acceptance_hours": 24,
    "instructions": "Call the site manager first",
}
OVERRIDE = {"outsource_rate": "7399.91"}
SERVICE_TERMS = {
    "rate_type": "flat",
    "flat_rate": "4866.84",
    "outsource_rate": "3977.73",
    "bill_rate": "2188.62",
    "authorised_charges": "1299.51",
    "total_authorised": "6377.42",
    "acceptance_hours": 48,
}
FIGURES: set[str] = {
    str(value)
    for terms in (DEFAULT_TERMS, OVERRIDE, SERVICE_TERMS)
    for key, value in terms.items()
    if key in FINANCIAL_TERMS
}

assert set(DEFAULT_TERMS) >= FINANCIAL_TERMS, "the test data must hold every financial term"
assert set(SERVICE_TERMS) >= FINANCIAL_TERMS, "the test data must hold every financial term"


@dataclass(frozen=True)
class View:
    name: str
    path: str
    needed: Permission
    #: does the answer show terms at all (so that Allow All must see the figures)?
    shows_terms: bool = True

    def __str__(self) -> str:
        return self.name


VIEWS = [
    View("ticket state (unsent)", "/tickets/{unsent_ticket}/outsource", Permission.NONE),
    View("ticket state (sent)", "/tickets/{sent_ticket}/outsource", Permission.NONE),
    View("ticket history", "/tickets/{sent_ticket}/outsource/history", Permission.OUTSOURCE, shows_terms=False),
    View("engagement (unsent)", "/engagements/{unsent}", Permission.OUTSOURCE),
    View("engagement (sent)", "/engagements/{sent}", Permission.OUTSOURCE),
    View("engagement (service)", "/engagements/{service}", Permission.OUTSOURCE),
    View("dashboard lead unsent", "/dashboard/lead/unsent", Permission.PARTNER_MANAGEMENT),
    View("dashboard lead waiting", "/dashboard/lead/waiting_acceptance", Permission.PARTNER_MANAGEMENT),
    View("dashboard service waiting", "/dashboard/service/waiting_acceptance", Permission.PARTNER_MANAGEMENT),
    View("dashboard counts", "/dashboard", Permission.PARTNER_MANAGEMENT, shows_terms=False),
    View("partner list", "/partners", Permission.PARTNER_MANAGEMENT),
    View("partner read", "/partners/{partner_id}", Permission.PARTNER_MANAGEMENT),
]


@pytest.fixture
def world(app: Flask, api: Api, ticket_id: str, partner_id: int) -> dict[str, Any]:
    """Lead engagements configured through the API from financial partner defaults,
    one still Unsent and one sent (its terms frozen), and a service engagement offered to us."""
    with app.app_context():
        db.session.execute(update(Partner).where(Partner.id == partner_id).values(default_terms=DEFAULT_TERMS))
        db.session.commit()
    sent_ticket = add_ticket(app, "VPN down")
    ids = {}
    for ticket in (ticket_id, sent_ticket):
        response = api.post(f"/tickets/{ticket}/outsource", {"partner_id": partner_id, "terms": OVERRIDE})
        assert response.status_code == 201, response.get_json()
        ids[ticket] = response.get_json()["engagement"]["id"]
    response = api.post(f"/tickets/{sent_ticket}/outsource/actions", {"action": "send"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["engagement"]["status"] == Status.ASSIGNED.value
    service = add_engagement(app, partner_id, status=Status.ASSIGNED, role=Side.SERVICE, terms=SERVICE_TERMS)
    return {
        "unsent_ticket": ticket_id,
        "sent_ticket": sent_ticket,
        "unsent": ids[ticket_id],
        "sent": ids[sent_ticket],
        "service": service,
        "partner_id": partner_id,
    }


def _figures_in(text: str) -> set[str]:
    return {figure for figure in FIGURES if figure in text}


def test_allow_all_sees_the_stored_figures(api: Api, world: dict[str, Any]) -> None:
    """The baseline the other tests rely on: the figures are there to be hidden."""
    terms = api.get(f"/engagements/{world['unsent']}").get_json()["terms"]
    assert terms == {**DEFAULT_TERMS, **OVERRIDE}
    terms = api.get(f"/engagements/{world['sent']}").get_json()["terms"]
    assert terms == {**DEFAULT_TERMS, **OVERRIDE}
    assert api.get(f"/engagements/{world['service']}").get_json()["terms"] == SERVICE_TERMS
    assert api.get(f"/partners/{world['partner_id']}").get_json()["default_terms"] == DEFAULT_TERMS


@pytest.mark.parametrize("level", list(Permission), ids=lambda p: p.name)
@pytest.mark.parametrize("view", VIEWS, ids=str)
def test_financial_terms_only_for_allow_all(api: Api, world: dict[str, Any], view: View, level: Permission) -> None:
    response = api.get(view.path.format(**world), level=level)
    text = response.get_data(as_text=True)
    if level < view.needed:
        assert response.status_code == 403, text
    else:
        assert response.status_code == 200, text
    body = response.get_json()
    if level >= Permission.ALL:
        if view.shows_terms:
            assert financial_keys(body) == FINANCIAL_TERMS
            assert _figures_in(text)
        return
    assert financial_keys(body) == set(), text
    assert _figures_in(text) == set(), text


@pytest.mark.parametrize("level", [Permission.OUTSOURCE, Permission.PARTNER_MANAGEMENT], ids=lambda p: p.name)
def test_below_allow_all_still_sees_the_other_terms(api: Api, world: dict[str, Any], level: Permission) -> None:
    lead_terms = set(DEFAULT_TERMS) - FINANCIAL_TERMS
    expected = {"unsent": lead_terms, "sent": lead_terms, "service": set(SERVICE_TERMS) - FINANCIAL_TERMS}
    for key, keys in expected.items():
        assert set(api.get(f"/engagements/{world[key]}", level=level).get_json()["terms"]) == keys
    state = api.get(f"/tickets/{world['unsent_ticket']}/outsource", level=level).get_json()
    assert state["engagement"]["terms"]["instructions"] == DEFAULT_TERMS["instructions"]
    if level >= Permission.PARTNER_MANAGEMENT:
        partner = api.get(f"/partners/{world['partner_id']}", level=level).get_json()
        assert set(partner["default_terms"]) == set(DEFAULT_TERMS) - FINANCIAL_TERMS


@pytest.mark.parametrize("ticket", ["unsent_ticket", "sent_ticket"])
def test_no_permission_sees_partner_and_status_but_no_terms(api: Api, world: dict[str, Any], ticket: str) -> None:
    response = api.get(f"/tickets/{world[ticket]}/outsource", level=Permission.NONE)
    assert response.status_code == 200
    engagement = response.get_json()["engagement"]
    assert engagement["partner"] == {"id": world["partner_id"], "name": "Contoso"}
    assert engagement["status"] in (Status.UNSENT.value, Status.ASSIGNED.value)
    assert "terms" not in engagement
    assert "offer" not in engagement
    assert engagement["allowed_actions"] == []
    assert response.get_json()["allowed_actions"] == []
    assert financial_keys(response.get_json()) == set()


def test_answers_to_writes_hide_financial_terms_below_allow_all(
    app: Flask, api: Api, world: dict[str, Any], partner_id: int
) -> None:
    """What a write sends back is filtered like a read, even when the caller sent the figures."""
    manager, tech = Permission.PARTNER_MANAGEMENT, Permission.OUTSOURCE
    answers = [
        api.post("/partners", {"name": "Fabrikam", "adapter": "memory", "default_terms": DEFAULT_TERMS}, level=manager),
        api.patch(f"/partners/{partner_id}", {"default_terms": {"bill_rate": "8422.48"}}, level=manager),
        api.post(f"/partners/{partner_id}/disable", level=manager),
    ]
    with app.app_context():
        db.session.execute(update(Partner).where(Partner.id == partner_id).values(active=True))
        db.session.commit()
    answers += [
        api.patch(f"/tickets/{world['unsent_ticket']}/outsource", {"terms": {"flat_rate": "9533.59"}}, level=tech),
        api.post(f"/tickets/{world['unsent_ticket']}/outsource/actions", {"action": "send"}, level=tech),
        api.post(f"/engagements/{world['service']}/actions", {"action": "decline", "reason": "busy"}, level=tech),
    ]
    for response in answers:
        text = response.get_data(as_text=True)
        assert response.status_code in (200, 201), text
        assert financial_keys(response.get_json()) == set(), text
        assert _figures_in(text) == set(), text
    with app.app_context():
        fabrikam = db.session.query(Partner).filter_by(name="Fabrikam").one()
        assert fabrikam.default_terms == DEFAULT_TERMS
