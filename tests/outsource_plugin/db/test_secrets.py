"""Partner secrets at rest: Fernet ciphertext in the row, plaintext through ``Partner.config``."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import text

from examples.helpdesk.models import db
from outsource_plugin.db.models import Invitation, Partner
from outsource_plugin.db.secretbox import MARKER, box, check_keys, derive_key
from outsource_plugin.errors import SecretKeyError
from outsource_plugin.federation.signing import sign
from outsource_plugin.partnership.invitations import create_invitation
from outsource_plugin.state import current_outsource
from tests.conftest import Api

SECRET = "peer-secret-0123456789"
PREVIOUS = "older-secret-9876543210"
FEDERATION = "/outsource/federation/v1"


def peer_body(link: str = "northwind-contoso") -> dict[str, Any]:
    return {
        "name": "Contoso peer",
        "adapter": "peer",
        "config": {
            "base_url": "http://127.0.0.1:9/outsource",
            "link_id": link,
            "secret": SECRET,
            "previous_secret": PREVIOUS,
        },
    }


def create_peer(api: Api) -> int:
    answer = api.post("/partners", peer_body())
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return int(answer.get_json()["id"])


def raw_config(app: Flask, partner_id: int) -> str:
    with app.app_context(), db.engine.connect() as connection:
        stored = connection.execute(
            text("SELECT CAST(config AS TEXT) FROM outsource_partner WHERE id = :id"), {"id": partner_id}
        )
        return str(stored.scalar_one())


def plain_config(app: Flask, partner_id: int) -> dict[str, Any]:
    with app.app_context():
        partner = db.session.get(Partner, partner_id)
        assert partner is not None
        return partner.config


def ping(app: Flask, secret: str, link: str = "northwind-contoso") -> Any:
    path = f"{FEDERATION}/ping"
    return app.test_client().get(path, headers=sign(link, secret, "GET", path, b""))


def test_the_row_holds_ciphertext_and_the_code_reads_plaintext(app: Flask, api: Api) -> None:
    partner_id = create_peer(api)
    raw = raw_config(app, partner_id)
    assert SECRET not in raw and PREVIOUS not in raw
    stored = json.loads(raw)
    assert set(stored["secret"]) == {MARKER} and set(stored["previous_secret"]) == {MARKER}
    assert stored["link_id"] == "northwind-contoso"  # settings that are not secret stay readable
    assert plain_config(app, partner_id)["secret"] == SECRET
    assert plain_config(app, partner_id)["previous_secret"] == PREVIOUS


def test_secrets_stay_write_only_and_an_edit_keeps_them_encrypted(app: Flask, api: Api) -> None:
    partner_id = create_peer(api)
    shown = api.get(f"/partners/{partner_id}")
    assert shown.status_code == 200
    assert SECRET not in shown.get_data(as_text=True) and MARKER not in shown.get_data(as_text=True)
    assert shown.get_json()["secrets_set"] == ["previous_secret", "secret"]
    edited = api.patch(f"/partners/{partner_id}", {"config": {**peer_body()["config"], "secret": None}})
    assert edited.status_code == 400  # a secret is left out to keep it, not sent as null
    config = {"base_url": "http://h/o", "link_id": "northwind-contoso"}  # secrets left out: kept
    edited = api.patch(f"/partners/{partner_id}", {"name": "Contoso (peer)", "config": config})
    assert edited.status_code == 200, edited.get_data(as_text=True)
    assert SECRET not in raw_config(app, partner_id)
    assert plain_config(app, partner_id)["secret"] == SECRET
    assert plain_config(app, partner_id)["base_url"] == "http://h/o"


def test_a_peer_request_signed_with_the_stored_secret_is_accepted(app: Flask, api: Api) -> None:
    create_peer(api)
    assert ping(app, SECRET).status_code == 200
    assert ping(app, PREVIOUS).status_code == 200
    assert ping(app, "not-the-secret-at-all").status_code == 401


def test_rotation_moves_every_secret_to_the_new_key(
    app: Flask, api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setitem(app.config, "OUTSOURCE_SECRET_KEYS", old)
    partner_id = create_peer(api)
    before = json.loads(raw_config(app, partner_id))

    monkeypatch.setitem(app.config, "OUTSOURCE_SECRET_KEYS", [new, old])
    assert plain_config(app, partner_id)["secret"] == SECRET  # the old key still decrypts
    with caplog.at_level(logging.DEBUG):
        result = app.test_cli_runner().invoke(args=["outsource", "secrets", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted the secrets of 1 partner(s)" in result.output
    assert SECRET not in result.output + caplog.text

    after = json.loads(raw_config(app, partner_id))
    assert after["secret"] != before["secret"]
    assert Fernet(new.encode()).decrypt(after["secret"][MARKER].encode()) == json.dumps(SECRET).encode()

    monkeypatch.setitem(app.config, "OUTSOURCE_SECRET_KEYS", new)
    assert plain_config(app, partner_id)["secret"] == SECRET
    assert plain_config(app, partner_id)["previous_secret"] == PREVIOUS
    assert ping(app, SECRET).status_code == 200


def test_a_secret_under_an_unknown_key_is_a_clear_error(app: Flask, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    partner_id = create_peer(api)
    stranger = Fernet.generate_key().decode()
    monkeypatch.setitem(app.config, "OUTSOURCE_SECRET_KEYS", stranger)

    with pytest.raises(SecretKeyError, match="encrypted with a key that is not in OUTSOURCE_SECRET_KEYS"):
        plain_config(app, partner_id)
    answer = api.get(f"/partners/{partner_id}")
    assert answer.status_code == 500
    assert answer.get_json()["error"] == "secret_key_error"
    assert stranger not in answer.get_data(as_text=True) and SECRET not in answer.get_data(as_text=True)
    result = app.test_cli_runner().invoke(args=["outsource", "secrets", "rotate"])
    assert result.exit_code == 1
    assert "Error: a stored partner secret was encrypted with a key that is not in" in result.output
    assert "Traceback" not in result.output
    assert SECRET not in raw_config(app, partner_id)


def test_a_secret_stored_before_encryption_is_read_and_then_encrypted_by_rotate(app: Flask, api: Api) -> None:
    partner_id = create_peer(api)
    legacy = json.dumps({**peer_body()["config"]})
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            text("UPDATE outsource_partner SET config = :c WHERE id = :id"), {"c": legacy, "id": partner_id}
        )
    assert plain_config(app, partner_id)["secret"] == SECRET
    result = app.test_cli_runner().invoke(args=["outsource", "secrets", "rotate"])
    assert result.exit_code == 0, result.output
    assert SECRET not in raw_config(app, partner_id)
    assert plain_config(app, partner_id)["secret"] == SECRET


def test_without_keys_the_key_derives_from_secret_key() -> None:
    derived = box({"SECRET_KEY": "k1"}).encrypt(b"x")
    assert Fernet(derive_key("k1")).decrypt(derived) == b"x"
    assert derive_key("k1") != derive_key("k2")
    with pytest.raises(SecretKeyError, match="need OUTSOURCE_SECRET_KEYS"):
        box({"SECRET_KEY": ""})


@pytest.mark.parametrize("keys", ["not-a-fernet-key", [Fernet.generate_key().decode(), "short"]])
def test_a_malformed_key_is_refused_at_start_up(keys: Any) -> None:
    with pytest.raises(SecretKeyError, match=r"OUTSOURCE_SECRET_KEYS entry \d is not a Fernet key"):
        check_keys({"OUTSOURCE_SECRET_KEYS": keys})


def test_rotation_moves_the_private_keys_of_invitations_too(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setitem(app.config, "OUTSOURCE_SECRET_KEYS", old)
    with app.app_context():
        invitation, _code = create_invitation(current_outsource(), {"name": "Invited"}, "http://x.test/outsource")
        db.session.commit()
        invitation_id, private = invitation.id, invitation.private_key

    monkeypatch.setitem(app.config, "OUTSOURCE_SECRET_KEYS", [new, old])
    result = app.test_cli_runner().invoke(args=["outsource", "secrets", "rotate"])
    assert result.exit_code == 0, result.output
    assert private not in result.output

    monkeypatch.setitem(app.config, "OUTSOURCE_SECRET_KEYS", new)
    with app.app_context():
        assert db.session.get(Invitation, invitation_id).private_key == private
