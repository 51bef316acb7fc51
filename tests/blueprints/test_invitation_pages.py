"""The "Invite a partner" and "Join a partner" pages, and invitations in the partners list."""

from __future__ import annotations

import html as markup
import re

from outsource_plugin.permissions import Permission
from tests.blueprints.page_helpers import html, page_client, post
from tests.joining import Desks, peers

P = "/outsource"


def _code(page: str) -> str:
    found = re.search(r'<textarea id="invitation-code"[^>]*>([^<]+)</textarea>', page)
    assert found is not None, page
    return markup.unescape(found.group(1)).strip()


def test_two_desks_become_partners_through_the_pages(desks: Desks) -> None:
    northwind = page_client(desks.northwind, Permission.PARTNER_MANAGEMENT)
    form = html(northwind, f"{P}/partners/invite")
    assert 'name="csrf_token"' in form and "Default terms" in form
    shown = post(
        northwind, f"{P}/partners/invite", {"name": "Contoso Field Services", "terms.acceptance_hours": "48"}, 200
    )
    code = _code(shown.get_data(as_text=True))
    listed = html(northwind, f"{P}/partners")
    assert "Contoso Field Services" in listed and "Invited" in listed and "Revoke" in listed
    assert code not in listed

    contoso = page_client(desks.contoso, Permission.PARTNER_MANAGEMENT)
    assert 'name="code"' in html(contoso, f"{P}/partners/join")
    joined = post(contoso, f"{P}/partners/join", {"code": code})
    assert re.search(r"/outsource/partners/\d+$", joined.headers["Location"])
    assert peers(desks.contoso)["Northwind IT"]["active"] and peers(desks.northwind)["Contoso Field Services"]["active"]
    assert "Invited" not in html(northwind, f"{P}/partners")


def test_a_refused_code_is_explained_beside_the_form_without_showing_it_again(desks: Desks) -> None:
    northwind = page_client(desks.northwind, Permission.PARTNER_MANAGEMENT)
    code = _code(
        post(northwind, f"{P}/partners/invite", {"name": "Contoso Field Services"}, 200).get_data(as_text=True)
    )
    contoso = page_client(desks.contoso, Permission.PARTNER_MANAGEMENT)
    post(contoso, f"{P}/partners/join", {"code": code})
    again = post(contoso, f"{P}/partners/join", {"code": code}, 409).get_data(as_text=True)
    assert "used already" in again and code not in again and 'id="join-form"' in again
    garbage = post(contoso, f"{P}/partners/join", {"code": "hello"}, 400).get_data(as_text=True)
    assert "not an invitation code" in garbage


def test_revoke_from_the_partners_list(desks: Desks) -> None:
    northwind = page_client(desks.northwind, Permission.PARTNER_MANAGEMENT)
    post(northwind, f"{P}/partners/invite", {"name": "Contoso Field Services"}, 200)
    invitation_id = re.search(r'data-invitation-id="(\d+)"', html(northwind, f"{P}/partners"))
    assert invitation_id is not None
    post(northwind, f"{P}/invitations/{invitation_id.group(1)}/revoke")
    assert "data-invitation-id" not in html(northwind, f"{P}/partners")


def test_the_invitation_forms_need_their_form_token(desks: Desks) -> None:
    northwind = page_client(desks.northwind, Permission.PARTNER_MANAGEMENT)
    post(northwind, f"{P}/partners/invite", {"name": "Contoso Field Services"}, 400, token=False)
    post(northwind, f"{P}/partners/join", {"code": "x"}, 400, token=False)
    assert peers(desks.northwind) == {}
