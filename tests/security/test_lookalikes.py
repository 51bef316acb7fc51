"""Look-alike text: names are stored NFC with bidi and zero-width controls removed, and a partner
name that only looks like an existing one is refused (issue 13, item 10)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from flask import Flask

from outsource_plugin.permissions import Permission
from outsource_plugin.validation.filenames import safe_filename
from tests.blueprints.api_helpers import assert_error, row_counts
from tests.blueprints.page_helpers import page_client, post
from tests.conftest import Api
from tests.security.helpers import COUNTS

RLO, LRI, PDI, ZWSP, ZWJ, BOM = "\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff"
#: names that display as, or differ only invisibly from, the stored partner "Contoso"
LOOKALIKES = {
    "zero-width space": f"Con{ZWSP}toso",
    "zero-width joiner": f"Contoso{ZWJ}",
    "byte order mark": f"{BOM}Contoso",
    "right-to-left override": f"Contoso{RLO}",
    "isolates": f"{LRI}Contoso{PDI}",
    "other case": "CONTOSO",
    "full-width letters": "\uff23\uff4f\uff4e\uff54\uff4f\uff53\uff4f",
    "soft hyphen": "Con\u00adtoso",
}
FILENAMES = {
    f"invoice{RLO}txt.exe": "invoicetxt.exe",
    f"report{ZWSP}.pdf": "report.pdf",
    f"{LRI}photo.png{PDI}": "photo.png",
    "Cafe\u0301.txt": "Caf\u00e9.txt",
    f"{BOM}{RLO}": "attachment",
}
CHECKED: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    COUNTS.update(lookalike_inputs=len(CHECKED))


@pytest.mark.parametrize(("raw", "clean"), FILENAMES.items())
def test_file_names_lose_bidi_and_zero_width_controls(raw: str, clean: str) -> None:
    assert safe_filename(raw) == clean
    CHECKED.append(raw)


def test_an_uploaded_file_name_cannot_hide_its_extension(api: Api, ticket_id: str) -> None:
    upload = {"file": (io.BytesIO(b"MZ"), f"invoice{RLO}txt.exe")}
    response = api.post(f"/api/tickets/{ticket_id}/attachments", data=upload, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_data(as_text=True)
    [attachment] = api.get(f"/api/tickets/{ticket_id}").get_json()["attachments"]
    assert attachment["filename"] == "invoicetxt.exe"
    CHECKED.append("upload")


@pytest.mark.parametrize("name", LOOKALIKES.values(), ids=list(LOOKALIKES))
def test_a_partner_name_like_an_existing_one_is_refused(app: Flask, api: Api, name: str) -> None:
    before = row_counts(app)
    body = assert_error(api.post("/partners", {"name": name, "adapter": "memory"}), 409, "conflict")
    # cleaned of invisible controls, some are "Contoso" itself; the others only look like it
    assert "'Contoso'" in body["message"], body
    assert body["details"]["name"] in (["already taken"], ["looks like an existing partner's name"]), body
    assert row_counts(app) == before
    CHECKED.append(name)


@pytest.mark.parametrize("name", LOOKALIKES.values(), ids=list(LOOKALIKES))
def test_renaming_a_partner_to_a_lookalike_is_refused(app: Flask, api: Api, name: str) -> None:
    created = api.post("/partners", {"name": "Fabrikam", "adapter": "memory"})
    assert created.status_code == 201
    assert_error(api.patch(f"/partners/{created.get_json()['id']}", {"name": name}), 409, "conflict")
    CHECKED.append(name)


def test_a_partner_keeps_its_own_name_in_another_form(api: Api, partner_id: int) -> None:
    """Renaming a partner to a variant of its own name is no clash; the name is stored clean."""
    response = api.patch(f"/partners/{partner_id}", {"name": f"CON{ZWSP}TOSO"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["name"] == "CONTOSO"
    CHECKED.append("own name")


def test_names_are_stored_clean(api: Api) -> None:
    response = api.post("/partners", {"name": f"  Fabr{ZWSP}ikam{RLO} Cafe\u0301 ", "adapter": "memory"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["name"] == "Fabrikam Caf\u00e9"
    assert_error(api.post("/partners", {"name": "Fabrikam Caf\u00e9", "adapter": "memory"}), 409, "conflict")
    CHECKED.append("stored clean")


def test_a_name_of_only_controls_is_blank(app: Flask, api: Api) -> None:
    body = assert_error(api.post("/partners", {"name": f"{ZWSP}{RLO}", "adapter": "memory"}), 400)
    assert "name" in body["details"]
    CHECKED.append("only controls")


def test_the_partner_page_refuses_a_lookalike(app: Flask) -> None:
    client = page_client(app, Permission.PARTNER_MANAGEMENT)
    response = post(client, "/outsource/partners/new", {"adapter": "memory", "name": f"Con{ZWSP}toso"}, status=409)
    assert "already exists" in response.get_data(as_text=True)
    CHECKED.append("page")
