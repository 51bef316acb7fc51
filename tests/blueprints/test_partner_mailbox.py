"""A partner's mailbox for its new offers (``notify_email``): set and cleared through the API and the partner form."""

from __future__ import annotations

from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.db.models import Partner
from outsource_plugin.permissions import Permission
from tests.blueprints.page_helpers import html, page_client, post
from tests.conftest import Api

P = "/outsource"


def test_the_api_sets_shows_and_clears_the_mailbox(app: Flask, api: Api) -> None:
    body = {"name": "Fabrikam", "adapter": "memory", "notify_email": "dispatch@northwind.test"}
    created = api.post("/partners", json=body)
    assert created.status_code == 201, created.get_json()
    partner_id = created.get_json()["id"]
    assert api.get(f"/partners/{partner_id}").get_json()["notify_email"] == "dispatch@northwind.test"
    refused = api.patch(f"/partners/{partner_id}", json={"notify_email": "not an address"})
    assert refused.status_code == 400 and "notify_email" in refused.get_json()["details"]
    assert api.patch(f"/partners/{partner_id}", json={"notify_email": None}).status_code == 200
    assert api.get(f"/partners/{partner_id}").get_json()["notify_email"] is None


def test_the_partner_form_sets_and_shows_the_mailbox(app: Flask, partner_id: int) -> None:
    client = page_client(app, Permission.PARTNER_MANAGEMENT)
    data = {"adapter": "memory", "name": "Contoso", "active": "on", "notify_email": "dispatch@northwind.test"}
    post(client, f"{P}/partners/{partner_id}", data)
    with app.app_context():
        assert db.session.get(Partner, partner_id).notify_email == "dispatch@northwind.test"
    assert 'name="notify_email" type="email"' in html(client, f"{P}/partners/{partner_id}")
    assert 'value="dispatch@northwind.test"' in html(client, f"{P}/partners/{partner_id}")
    post(client, f"{P}/partners/{partner_id}", {**data, "notify_email": ""})
    with app.app_context():
        assert db.session.get(Partner, partner_id).notify_email is None
