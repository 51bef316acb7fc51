"""Becoming partners by invitation through the JSON API: two in-process hosts, one handshake."""

from __future__ import annotations

from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.db.models import Partner
from outsource_plugin.federation.signing import sign
from outsource_plugin.permissions import Permission
from tests.joining import CONTOSO_URL, NORTHWIND_URL, Desks, peers


def test_invite_then_join_leaves_both_hosts_registered_as_each_others_enabled_peer(desks: Desks) -> None:
    invited = desks.invite(default_terms={"rate_type": "hourly", "acceptance_hours": 48})
    joined = desks.join(invited["code"])

    northwind, contoso = peers(desks.northwind), peers(desks.contoso)
    ours, theirs = northwind["Contoso Field Services"], contoso["Northwind IT"]
    assert ours["active"] and theirs["active"]
    assert ours["link_id"] == theirs["link_id"] == joined["config"]["link_id"]
    assert ours["secret"] == theirs["secret"] and len(ours["secret"]) >= 32
    assert ours["base_url"] == CONTOSO_URL and theirs["base_url"] == NORTHWIND_URL
    assert joined["name"] == "Northwind IT" and joined["adapter"] == "peer" and joined["secrets_set"] == ["secret"]
    assert "secret" not in joined["config"]
    with desks.northwind.app_context():
        partner = db.session.query(Partner).filter_by(name="Contoso Field Services").one()
        assert partner.default_terms["acceptance_hours"] == 48


def test_the_agreed_secret_signs_partner_requests_both_ways(desks: Desks) -> None:
    desks.join(desks.invite()["code"])
    for app, name in ((desks.northwind, "Northwind IT"), (desks.contoso, "Contoso Field Services")):
        link, secret = _signing_of(desks.contoso if app is desks.northwind else desks.northwind, name)
        answer = app.test_client().get(
            "/outsource/federation/v1/ping", headers=sign(link, secret, "GET", "/outsource/federation/v1/ping", b"")
        )
        assert answer.status_code == 200, answer.get_json()


def _signing_of(app: Flask, partner_name: str) -> tuple[str, str]:
    settings = peers(app)[partner_name]
    return str(settings["link_id"]), str(settings["secret"])


def test_an_invitation_is_listed_as_invited_until_it_is_used(desks: Desks) -> None:
    invited = desks.invite()
    listed = desks.northwind_api.get("/invitations").get_json()["invitations"]
    assert [(i["name"], i["state"]) for i in listed] == [("Contoso Field Services", "invited")]
    assert listed[0]["fingerprint"] == invited["invitation"]["fingerprint"]
    desks.join(invited["code"])
    assert desks.northwind_api.get("/invitations").get_json()["invitations"] == []


def test_a_revoked_invitation_leaves_the_list_and_its_code_is_refused(desks: Desks) -> None:
    invited = desks.invite()
    revoked = desks.northwind_api.post(f"/invitations/{invited['invitation']['id']}/revoke")
    assert revoked.status_code == 200 and revoked.get_json()["state"] == "revoked"
    assert desks.northwind_api.get("/invitations").get_json()["invitations"] == []
    refused = desks.join(invited["code"], expect=409)
    assert "revoked" in refused["message"]
    assert peers(desks.northwind) == {} and peers(desks.contoso) == {}


def test_joining_may_name_the_partner_here(desks: Desks) -> None:
    joined = desks.join(desks.invite()["code"], name="Northwind (HQ)")
    assert joined["name"] == "Northwind (HQ)"


def test_inviting_and_joining_need_partner_management(desks: Desks) -> None:
    for level in (Permission.NONE, Permission.OUTSOURCE):
        assert desks.northwind_api.post("/invitations", {"name": "X"}, level).status_code == 403
        assert desks.northwind_api.get("/invitations", level=level).status_code == 403
        assert desks.contoso_api.post("/partners/join", {"code": "x"}, level).status_code == 403
    assert desks.northwind_api.post("/invitations", {"name": "X"}, Permission.PARTNER_MANAGEMENT).status_code == 201


def test_an_invitation_below_allow_all_carries_no_financial_terms(desks: Desks) -> None:
    refused = desks.northwind_api.post(
        "/invitations", {"name": "X", "default_terms": {"outsource_rate": "80.00"}}, Permission.PARTNER_MANAGEMENT
    )
    assert refused.status_code == 403


def test_an_invitation_may_not_take_an_existing_partners_name(desks: Desks) -> None:
    refused = desks.northwind_api.post("/invitations", {"name": "Contoso"})
    assert refused.status_code == 409 and refused.get_json()["details"] == {"name": ["already taken"]}


def test_the_manual_registration_stays_available(desks: Desks) -> None:
    created = desks.northwind_api.post(
        "/partners",
        {
            "name": "Typed by hand",
            "adapter": "peer",
            "config": {"base_url": CONTOSO_URL, "link_id": "by-hand", "secret": "s" * 24},
        },
    )
    assert created.status_code == 201
