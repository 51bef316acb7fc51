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
from outsource_plugin.db.models import Partner
from outsource_plugin.permissions import Permission
from outsource_plugin.validation.schemas import FINANCIAL_TERMS
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_ticket, assert_error, financial_keys, table_rows
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
    """What a write sends back is filtered like a read: the stored figures stay hidden."""
    manager, tech = Permission.PARTNER_MANAGEMENT, Permission.OUTSOURCE
    answers = [
        api.post("/partners", {"name": "Fabrikam", "adapter": "memory", "default_terms": LEVEL_TERMS}, level=manager),
        api.patch(f"/partners/{partner_id}", {"default_terms": {"instructions": "Ring twice"}}, level=manager),
        api.post(f"/partners/{partner_id}/disable", level=manager),
    ]
    with app.app_context():
        db.session.execute(update(Partner).where(Partner.id == partner_id).values(active=True))
        db.session.commit()
    answers += [
        api.patch(f"/tickets/{world['unsent_ticket']}/outsource", {"terms": {"instructions": "Ring"}}, level=tech),
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
        assert fabrikam.default_terms == LEVEL_TERMS


#: the terms a user below Allow All may set
LEVEL_TERMS = {k: v for k, v in DEFAULT_TERMS.items() if k not in FINANCIAL_TERMS}
BELOW_ALL = [Permission.OUTSOURCE, Permission.PARTNER_MANAGEMENT]


def _writes(world: dict[str, Any], key: str, value: Any) -> list[tuple[str, str, dict[str, Any], Permission]]:
    """Every API write that sets terms, each carrying one financial term, and the least level it needs."""
    terms = {key: value}
    return [
        ("POST", f"/tickets/{world['fresh']}/outsource", {"partner_id": world["partner_id"], "terms": terms}, 1),
        ("PATCH", f"/tickets/{world['unsent_ticket']}/outsource", {"terms": terms}, 1),
        ("POST", "/partners", {"name": "Fabrikam", "adapter": "memory", "default_terms": terms}, 2),
        ("PATCH", f"/partners/{world['partner_id']}", {"default_terms": terms}, 2),
    ]


@pytest.mark.parametrize("value", ["1.00", None], ids=["set", "clear"])
@pytest.mark.parametrize("key", sorted(FINANCIAL_TERMS))
@pytest.mark.parametrize("level", BELOW_ALL, ids=lambda p: p.name)
def test_writing_a_financial_term_below_allow_all_is_refused(
    app: Flask, api: Api, world: dict[str, Any], level: Permission, key: str, value: Any
) -> None:
    """Setting or clearing a figure the page hides is a 403 that names the field, and writes nothing."""
    world = {**world, "fresh": add_ticket(app, "Fresh")}
    for method, path, body, needed in _writes(world, key, value):
        if level < needed:
            continue
        before = table_rows(app)
        response = api.call(method, path, level, json=body)
        error = assert_error(response, 403, "permission_denied")
        assert key in error["message"], error
        assert any(key in name for name in error["details"]), error
        assert table_rows(app) == before, (method, path)


@pytest.mark.parametrize("level", BELOW_ALL, ids=lambda p: p.name)
def test_an_edit_below_allow_all_keeps_the_hidden_figures(
    app: Flask, api: Api, world: dict[str, Any], level: Permission
) -> None:
    """Editing the other terms, of an engagement or a partner's defaults, leaves the figures as they were."""
    response = api.patch(f"/tickets/{world['unsent_ticket']}/outsource", {"terms": {"instructions": "x"}}, level=level)
    assert response.status_code == 200, response.get_data(as_text=True)
    terms = api.get(f"/engagements/{world['unsent']}").get_json()["terms"]
    assert terms == {**DEFAULT_TERMS, **OVERRIDE, "instructions": "x"}
    if level < Permission.PARTNER_MANAGEMENT:
        return
    edited = {"instructions": "Ring twice", "acceptance_hours": 12}
    response = api.patch(f"/partners/{world['partner_id']}", {"default_terms": edited}, level=level)
    assert response.status_code == 200, response.get_data(as_text=True)
    expected = {**{k: v for k, v in DEFAULT_TERMS.items() if k in FINANCIAL_TERMS}, **edited}
    assert api.get(f"/partners/{world['partner_id']}").get_json()["default_terms"] == expected


def test_allow_all_sets_and_clears_financial_terms(api: Api, world: dict[str, Any]) -> None:
    response = api.patch(f"/tickets/{world['unsent_ticket']}/outsource", {"terms": {"bill_rate": None}})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "bill_rate" not in api.get(f"/engagements/{world['unsent']}").get_json()["terms"]
    response = api.patch(f"/partners/{world['partner_id']}", {"default_terms": {"bill_rate": "1.00"}})
    assert response.get_json()["default_terms"] == {"bill_rate": "1.00"}
