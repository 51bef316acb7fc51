"""``flask outsource partners ...``: the same rules as the JSON API, and never a secret printed."""

from __future__ import annotations

import json
from types import SimpleNamespace

from flask import Flask

from outsource_plugin.db.models import Partner
from outsource_plugin.state import current_outsource
from tests.cross_host.hosts import free_port
from tests.outsource_plugin.engagement_helpers import cli

SECRET = "s3cret-value-0123456789abcdef"


def stored(app: Flask, name: str) -> SimpleNamespace:
    """The partner's row as stored, read in an app context (settings are decrypted there)."""
    with app.app_context():
        partner = current_outsource().session.query(Partner).filter_by(name=name).one()
        return SimpleNamespace(
            config=dict(partner.config),
            default_terms=dict(partner.default_terms),
            active=partner.active,
            link_id=partner.link_id,
        )


def add_peer(app: Flask, name: str = "Fabrikam", port: int = 9) -> dict:
    result = cli(
        app,
        "partners",
        "add",
        "--name",
        name,
        "--adapter",
        "peer",
        "--config",
        f"base_url=http://127.0.0.1:{port}/outsource",
        "--config",
        f"link_id={name.lower()}-link",
        "--config",
        f"secret={SECRET}",
        "--terms",
        "acceptance_hours=12",
        "--terms",
        "outsource_rate=80.00",
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_validates_like_the_api_and_keeps_secrets_write_only(app: Flask) -> None:
    shown = add_peer(app)
    assert shown["name"] == "Fabrikam" and shown["secrets_set"] == ["secret"]
    assert shown["default_terms"] == {"acceptance_hours": 12, "outsource_rate": "80.00"}
    partner = stored(app, "Fabrikam")
    assert partner.config["secret"] == SECRET and partner.link_id == "fabrikam-link"

    listed = cli(app, "partners", "list")
    assert listed.exit_code == 0
    assert "Fabrikam" in listed.stdout and "Contoso" in listed.stdout and "peer" in listed.stdout
    as_json = cli(app, "partners", "list", "--json")
    names = {p["name"]: p for p in json.loads(as_json.stdout)["partners"]}
    assert names["Fabrikam"]["config"] == {
        "base_url": "http://127.0.0.1:9/outsource",
        "link_id": "fabrikam-link",
    }
    for output in (listed.output, as_json.output):
        assert SECRET not in output


def test_add_refuses_bad_input_with_a_clear_error(app: Flask) -> None:
    bad_url = cli(app, "partners", "add", "--name", "X", "--adapter", "peer", "--config", "base_url=nope")
    assert bad_url.exit_code == 1
    assert "config" in bad_url.output and "base_url" in bad_url.output

    unknown = cli(app, "partners", "add", "--name", "X", "--adapter", "carrier-pigeon")
    assert unknown.exit_code == 1 and "unknown adapter 'carrier-pigeon'" in unknown.output

    taken = cli(app, "partners", "add", "--name", "Contoso", "--adapter", "memory")
    assert taken.exit_code == 1 and "already exists" in taken.output

    not_a_pair = cli(app, "partners", "add", "--name", "X", "--adapter", "memory", "--config", "autopilot")
    assert not_a_pair.exit_code == 2 and "KEY=VALUE" in not_a_pair.output

    not_a_number = cli(app, "partners", "add", "--name", "X", "--adapter", "memory", "--terms", "acceptance_hours=x")
    assert not_a_number.exit_code == 2 and "whole number" in not_a_number.output

    not_json = cli(app, "partners", "add", "--name", "X", "--adapter", "memory", "--config-json", "[1]")
    assert not_json.exit_code == 2 and "JSON object" in not_json.output
    with app.app_context():
        assert current_outsource().session.query(Partner).filter_by(name="X").count() == 0


def test_config_json_and_edit_keep_unnamed_settings_and_secrets(app: Flask) -> None:
    added = cli(
        app, "partners", "add", "--name", "Robot", "--adapter", "memory", "--config-json", '{"autopilot": true}'
    )
    assert added.exit_code == 0, added.output
    assert stored(app, "Robot").config == {"autopilot": True}

    partner_id = add_peer(app)["id"]
    edited = cli(app, "partners", "edit", str(partner_id), "--config", "base_url=http://127.0.0.1:8/outsource")
    assert edited.exit_code == 0, edited.output
    assert SECRET not in edited.output
    partner = stored(app, "Fabrikam")
    assert partner.config["base_url"] == "http://127.0.0.1:8/outsource"
    assert partner.config["secret"] == SECRET and partner.config["link_id"] == "fabrikam-link"

    renamed = cli(app, "partners", "edit", "Fabrikam", "--name", "Fabrikam Ltd", "--terms", "acceptance_hours=6")
    assert renamed.exit_code == 0, renamed.output
    partner = stored(app, "Fabrikam Ltd")
    assert partner.default_terms == {"acceptance_hours": 6, "outsource_rate": "80.00"}

    assert cli(app, "partners", "edit", "Fabrikam Ltd").exit_code == 2
    clash = cli(app, "partners", "edit", "Fabrikam Ltd", "--name", "Contoso")
    assert clash.exit_code == 1 and "already exists" in clash.output
    missing = cli(app, "partners", "edit", "4711", "--name", "Y")
    assert missing.exit_code == 2 and "no partner with id or name '4711'" in missing.output


def test_test_passes_for_a_reachable_partner_and_fails_with_the_reason(app: Flask) -> None:
    passed = cli(app, "partners", "test", "Contoso")
    assert passed.exit_code == 0 and "passed: in-memory partner is always reachable" in passed.output

    add_peer(app, port=free_port())  # nothing listens there
    failed = cli(app, "partners", "test", "Fabrikam")
    assert failed.exit_code == 1
    assert "connection test of Fabrikam failed" in failed.output and "ConnectionError" in failed.output
    assert SECRET not in failed.output


def test_disable_keeps_the_partner_but_marks_it_inactive(app: Flask) -> None:
    result = cli(app, "partners", "disable", "Contoso")
    assert result.exit_code == 0 and "disabled" in result.output
    assert stored(app, "Contoso").active is False
    listed = json.loads(cli(app, "partners", "list", "--json").stdout)["partners"]
    assert [p["active"] for p in listed if p["name"] == "Contoso"] == [False]
    assert cli(app, "partners", "disable", "Nobody").exit_code == 2


def test_rotate_starts_a_rotation_that_waits_for_a_partner_that_is_down(app: Flask) -> None:
    add_peer(app, port=free_port())  # nothing listens there
    result = cli(app, "partners", "rotate", "Fabrikam")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "key rotation with Fabrikam started: Rotating keys: waiting for Fabrikam"
    record = stored(app, "Fabrikam").config["rotation"]
    assert (
        record["step"] == "offered" and record["attempts"] == 1 and stored(app, "Fabrikam").config["secret"] == SECRET
    )
    again = cli(app, "partners", "rotate", "Fabrikam")
    assert again.exit_code == 0 and "already under way" in again.output
    assert stored(app, "Fabrikam").config["rotation"]["rotation_id"] == record["rotation_id"]
    assert SECRET not in result.output + again.output and record["private_key"] not in result.output + again.output


def test_rotate_refuses_a_partner_without_agreed_keys(app: Flask) -> None:
    result = cli(app, "partners", "rotate", "Contoso")
    assert result.exit_code == 1 and "does not sign with keys this plugin agrees on" in result.output
    assert "rotation" not in stored(app, "Contoso").config


def test_disable_with_a_reason_owes_a_peer_a_notice_of_it(app: Flask) -> None:
    add_peer(app)
    for name in ("Fabrikam", "Contoso"):
        result = cli(app, "partners", "disable", name, "--reason", "Contract over at year end")
        assert result.exit_code == 0, result.output
    listed = {p["name"]: p for p in json.loads(cli(app, "partners", "list", "--json").stdout)["partners"]}
    assert listed["Fabrikam"]["disabled_reason"] == "Contract over at year end"
    assert listed["Fabrikam"]["leave_notice"] == "due"
    assert listed["Contoso"]["leave_notice"] is None  # an in-memory partner has nobody to tell
    too_long = cli(app, "partners", "disable", "Contoso", "--reason", "x" * 1001)
    assert too_long.exit_code != 0 and "reason" in too_long.output
