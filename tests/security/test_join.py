"""The join handshake under attack: replay, a stolen code, a key in the middle, an old or
revoked code, guessing the token, and secrets that must never show."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.db.models import Invitation, InvitationState, Partner, utcnow
from outsource_plugin.federation import handshake
from outsource_plugin.federation.signing import sign
from outsource_plugin.partnership.invitations import MAX_FAILED_JOINS
from outsource_plugin.permissions import Permission
from tests.blueprints.page_helpers import html, page_client
from tests.joining import Desks, peers
from tests.security.helpers import COUNTS

JOIN = "/outsource/federation/v1/join"


def _count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


def _invitation(app: Flask, public_id: str) -> Invitation:
    with app.app_context():
        invitation = db.session.query(Invitation).filter_by(public_id=public_id).one()
        db.session.expunge(invitation)
        return invitation


def _set_expiry(app: Flask, public_id: str, days: float) -> None:
    with app.app_context():
        invitation = db.session.query(Invitation).filter_by(public_id=public_id).one()
        invitation.expires_at = utcnow() + timedelta(days=days)
        db.session.commit()


def _join_posts(desks: Desks) -> list[object]:
    return [e.sent for e in desks.to_northwind.exchanges if e.sent.method == "POST"]


def test_a_replayed_join_request_is_refused_and_registers_nothing(desks: Desks) -> None:
    desks.join(desks.invite()["code"])
    sent = _join_posts(desks)[0]
    before = peers(desks.northwind)
    again = desks.northwind.test_client().post(sent.path, headers=sent.headers, data=sent.body)
    assert again.status_code == 409 and "used already" in again.get_json()["message"]
    assert peers(desks.northwind) == before
    _count("join_replay")


def test_a_join_request_outside_the_clock_tolerance_is_refused(desks: Desks) -> None:
    code = handshake.parse_code(desks.invite()["code"])
    offered = desks.northwind.test_client().get(f"{JOIN}/{code.invitation_id}").get_json()
    own = handshake.new_private_key()
    keys = handshake.derive_keys(
        own,
        inviter=offered["public_key"],
        joiner=handshake.public_text(own),
        hashed_token=handshake.token_hash(code.token),
        invitation_id=code.invitation_id,
    )
    body = (
        b'{"public_key":"%s","base_url":"http://mallory.test/outsource","org":"M"}'
        % handshake.public_text(own).encode()
    )
    path = f"{JOIN}/{code.invitation_id}"
    stale = sign(code.invitation_id, keys.proof, "POST", path, body, now=utcnow().timestamp() - 3600)
    answer = desks.northwind.test_client().post(path, headers={**stale, "Content-Type": "application/json"}, data=body)
    assert answer.status_code == 401
    assert peers(desks.northwind) == {}
    _count("join_stale")


def test_a_stolen_code_used_after_the_legitimate_join_is_refused(desks: Desks) -> None:
    code = desks.invite()["code"]
    desks.join(code)
    before = (peers(desks.northwind), peers(desks.contoso))
    refused = desks.join(code, expect=409, name="Mallory's copy")
    assert "used already" in refused["message"]
    assert (peers(desks.northwind), peers(desks.contoso)) == before
    _count("join_stolen_code")


def test_a_host_in_the_middle_with_another_key_is_refused_before_anything_is_sent(desks: Desks) -> None:
    code = handshake.parse_code(desks.invite()["code"])
    mallory = handshake.fingerprint(handshake.public_text(handshake.new_private_key()))
    refused = desks.join(replace(code, fingerprint=mallory).encode(), expect=409)
    assert "fingerprint mismatch" in refused["message"]
    assert _join_posts(desks) == []
    assert peers(desks.northwind) == {} and peers(desks.contoso) == {}
    assert _invitation(desks.northwind, code.invitation_id).state is InvitationState.INVITED
    _count("join_mitm")


def test_an_answer_not_confirmed_by_the_agreed_key_registers_nothing_here(desks: Desks) -> None:
    desks.to_northwind.tamper = lambda answer: re.sub(rb'"confirmation":"[0-9a-f]+"', b'"confirmation":"00"', answer)
    refused = desks.join(desks.invite()["code"], expect=409)
    assert "not confirmed" in refused["message"]
    assert peers(desks.contoso) == {}
    _count("join_unconfirmed")


def test_an_expired_code_is_refused_on_both_sides(desks: Desks) -> None:
    invited = handshake.parse_code(desks.invite()["code"])
    _set_expiry(desks.northwind, invited.invitation_id, -1)
    refused_here = desks.join(replace(invited, expires_at=utcnow().replace(year=2000)).encode(), expect=409)
    assert "expired" in refused_here["message"] and desks.to_northwind.exchanges == []
    refused_there = desks.join(invited.encode(), expect=409)  # the code still says it is valid: the inviter decides
    assert "expired" in refused_there["message"]
    assert peers(desks.northwind) == {} and peers(desks.contoso) == {}
    _count("join_expired")


def test_a_revoked_code_is_refused(desks: Desks) -> None:
    invited = desks.invite()
    assert desks.northwind_api.post(f"/invitations/{invited['invitation']['id']}/revoke").status_code == 200
    assert "revoked" in desks.join(invited["code"], expect=409)["message"]
    assert peers(desks.northwind) == {} and peers(desks.contoso) == {}
    _count("join_revoked")


def test_guessing_the_token_is_stopped_after_a_few_tries(desks: Desks) -> None:
    code = handshake.parse_code(desks.invite()["code"])
    assert len(handshake.unb64(code.token)) * 8 >= 128
    for _attempt in range(MAX_FAILED_JOINS):
        refused = desks.join(replace(code, token=handshake.new_token()).encode(), expect=409)
        assert "HTTP 401" in refused["message"]
    locked = desks.join(code.encode(), expect=409)
    assert "HTTP 429" in locked["message"] and "too many failed attempts" in locked["message"]
    assert _invitation(desks.northwind, code.invitation_id).state is InvitationState.LOCKED
    assert peers(desks.northwind) == {} and peers(desks.contoso) == {}
    _count("join_brute_force")


def test_no_key_or_token_in_any_log_answer_page_or_error(desks: Desks, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    invited = desks.invite()
    code = handshake.parse_code(invited["code"])
    desks.join(replace(code, token=handshake.new_token()).encode(), expect=409)  # an error answer too
    desks.join(invited["code"])
    desks.join(invited["code"], expect=409)
    with desks.northwind.app_context():
        invitation = db.session.query(Invitation).filter_by(public_id=code.invitation_id).one()
        private = invitation.private_key
        secret = db.session.get(Partner, invitation.partner_id).config["secret"]
    pages = [
        html(page_client(desks.northwind, Permission.ALL), "/outsource/partners").encode(),
        html(page_client(desks.contoso, Permission.ALL), "/outsource/partners").encode(),
        desks.northwind_api.get("/invitations").data,
        desks.northwind_api.get("/partners").data,
        desks.contoso_api.get("/partners").data,
    ]
    seen = desks.every_answer() + b"".join(pages) + caplog.text.encode()
    for value in (code.token, handshake.token_hash(code.token), private, secret):
        assert value.encode() not in seen
    _count("join_no_secrets")
