"""``flask outsource partners invite|invitations|revoke-invitation|join``, in process: the code
printed once, never a secret, and a refused join said in words with exit code 1."""

from __future__ import annotations

import json

import pytest

from outsource_plugin.federation import handshake
from tests.joining import Desks, peers
from tests.outsource_plugin.engagement_helpers import cli


def _invite(desks: Desks, *extra: str) -> str:
    result = cli(desks.northwind, "partners", "invite", "--name", "Contoso Field Services", *extra)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_invite_prints_the_code_once_and_join_registers_both_sides(desks: Desks) -> None:
    code = _invite(desks, "--terms", "acceptance_hours=48")
    assert handshake.parse_code(code).url == "http://northwind.test/outsource"
    listed = cli(desks.northwind, "partners", "invitations")
    assert json.loads(listed.output)["invitations"][0]["state"] == "invited" and code not in listed.output
    joined = cli(desks.contoso, "partners", "join", code)
    assert joined.exit_code == 0, joined.output
    shown = json.loads(joined.output)
    assert shown["name"] == "Northwind IT" and shown["secrets_set"] == ["secret"] and "secret" not in shown["config"]
    assert peers(desks.northwind)["Contoso Field Services"]["secret"] == peers(desks.contoso)["Northwind IT"]["secret"]
    assert peers(desks.northwind)["Contoso Field Services"]["secret"] not in joined.output


def test_invite_takes_the_url_from_the_option(desks: Desks) -> None:
    code = _invite(desks, "--url", "https://desk.example/outsource/")
    assert handshake.parse_code(code).url == "https://desk.example/outsource"


def test_without_a_public_url_invite_asks_for_one(desks: Desks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(desks.northwind.extensions["outsource"].config, "OUTSOURCE_PUBLIC_URL", "")
    result = cli(desks.northwind, "partners", "invite", "--name", "Contoso Field Services")
    assert result.exit_code == 1 and "OUTSOURCE_PUBLIC_URL" in result.output


def test_a_revoked_code_is_refused_with_exit_code_1_and_never_printed(desks: Desks) -> None:
    code = _invite(desks)
    listed = json.loads(cli(desks.northwind, "partners", "invitations").output)["invitations"]
    revoked = cli(desks.northwind, "partners", "revoke-invitation", str(listed[0]["id"]))
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    refused = cli(desks.contoso, "partners", "join", code)
    assert refused.exit_code == 1 and "revoked" in refused.output and code not in refused.output
    assert peers(desks.contoso) == {}
