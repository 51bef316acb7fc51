"""Invitation codes, the token kept only as its hash, expiry and the key fingerprint."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.db.models import Invitation, InvitationState, utcnow
from outsource_plugin.errors import ValidationFailed
from outsource_plugin.federation import handshake
from outsource_plugin.partnership.invitations import create_invitation
from outsource_plugin.state import current_outsource

URL = "https://desk.example/outsource"


def _invite(app: Flask, name: str = "Contoso Field Services") -> tuple[int, str]:
    with app.app_context():
        invitation, code = create_invitation(current_outsource(), {"name": name}, URL)
        db.session.commit()
        return invitation.id, code


def test_the_code_carries_our_url_a_one_time_token_the_expiry_and_our_key_fingerprint(app: Flask) -> None:
    invitation_id, code = _invite(app)
    parsed = handshake.parse_code(code)
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        assert parsed.url == URL
        assert parsed.invitation_id == invitation.public_id
        assert parsed.fingerprint == handshake.fingerprint(invitation.public_key)
        assert abs(parsed.expires_at - invitation.expires_at) < timedelta(seconds=1)
        assert invitation.state is InvitationState.INVITED
    assert len(handshake.unb64(parsed.token)) * 8 >= 128
    assert code.startswith(handshake.PREFIX) and not any(c.isspace() for c in code)


def test_each_invitation_has_its_own_token_and_key(app: Flask) -> None:
    first = handshake.parse_code(_invite(app, "One")[1])
    second = handshake.parse_code(_invite(app, "Two")[1])
    assert first.token != second.token
    assert first.fingerprint != second.fingerprint
    assert first.invitation_id != second.invitation_id


def test_the_token_is_stored_only_as_its_hash_and_the_private_key_only_encrypted(app: Flask) -> None:
    invitation_id, code = _invite(app)
    token = handshake.parse_code(code).token
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        private = invitation.private_key
        row = db.session.execute(db.select(Invitation.__table__).where(Invitation.id == invitation_id)).one()
    stored = " ".join(str(value) for value in row)
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored
    assert private not in stored
    assert handshake.public_text(handshake.private_from_text(private)) == invitation.public_key


def test_the_expiry_defaults_to_seven_days(app: Flask) -> None:
    invitation_id, _code = _invite(app)
    with app.app_context():
        left = db.session.get(Invitation, invitation_id).expires_at - utcnow()
    assert timedelta(days=7) - timedelta(minutes=1) < left <= timedelta(days=7)


def test_the_expiry_follows_the_setting(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_INVITATION_DAYS", 0.5)
    _invitation_id, code = _invite(app)
    left = handshake.parse_code(code).expires_at - utcnow()
    assert timedelta(hours=11, minutes=59) < left <= timedelta(hours=12)
    assert not handshake.parse_code(code).expired


@pytest.mark.parametrize("pasted", ["", "hello", handshake.PREFIX + "!!!", handshake.PREFIX + handshake.b64(b"[1]")])
def test_a_cut_or_altered_code_is_refused_without_echoing_it(pasted: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        handshake.parse_code(pasted)
    assert "not an invitation code" in refused.value.message
    assert not pasted or pasted not in refused.value.message


def test_a_code_pasted_across_lines_still_reads(app: Flask) -> None:
    _invitation_id, code = _invite(app)
    wrapped = "\n".join(code[i : i + 40] for i in range(0, len(code), 40))
    assert handshake.parse_code(wrapped) == handshake.parse_code(code)


def test_the_fingerprint_names_one_key() -> None:
    one, two = handshake.new_private_key(), handshake.new_private_key()
    assert handshake.fingerprint(handshake.public_text(one)) != handshake.fingerprint(handshake.public_text(two))
    assert handshake.fingerprint(handshake.public_text(one)).startswith("SHA256:")


def test_both_sides_derive_the_same_keys_only_with_the_token() -> None:
    inviter, joiner = handshake.new_private_key(), handshake.new_private_key()
    publics = {"inviter": handshake.public_text(inviter), "joiner": handshake.public_text(joiner)}
    hashed = handshake.token_hash(handshake.new_token())
    ours = handshake.derive_keys(inviter, **publics, hashed_token=hashed, invitation_id="inv-1")
    theirs = handshake.derive_keys(joiner, **publics, hashed_token=hashed, invitation_id="inv-1")
    guessed = handshake.derive_keys(
        joiner, **publics, hashed_token=handshake.token_hash(handshake.new_token()), invitation_id="inv-1"
    )
    assert ours == theirs
    assert len({ours.proof, ours.confirm, ours.secret}) == 3
    assert guessed.proof != ours.proof and guessed.secret != ours.secret
    assert handshake.confirmed(theirs, "inv-1", "Northwind IT", handshake.confirmation(ours, "inv-1", "Northwind IT"))
    assert not handshake.confirmed(
        guessed, "inv-1", "Northwind IT", handshake.confirmation(ours, "inv-1", "Northwind IT")
    )
