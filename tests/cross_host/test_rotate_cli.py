"""Two real host processes, joined by invitation, rotate their keys on the command line while an
engagement is In Progress and notes and time keep crossing both ways: nothing is lost, and the
old key is refused on both hosts afterwards.

The test reads each host's stored secret the way the host does (its database, decrypted with
the key its ``SECRET_KEY`` derives), only to sign requests with the old and the new key itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import create_engine, text

from outsource_plugin.db.secretbox import derive_key, unseal
from outsource_plugin.federation.signing import sign
from tests.cross_host.conftest import Pair, Scenario, by_invitation, running_pair
from tests.cross_host.hosts import Client, Host
from tests.polling import eventually

PING = "/outsource/federation/v1/ping"


@pytest.fixture(scope="module")
def joined_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    overlap = {"OUTSOURCE_ROTATION_OVERLAP": "3"}
    with running_pair(tmp_path_factory, overlap, connect=by_invitation) as started:
        yield started


def peer_settings(host: Host) -> dict[str, Any]:
    """The host's peer partner's settings in plaintext, as the host itself reads them."""
    engine = create_engine(host.database_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT config FROM outsource_partner WHERE link_id IS NOT NULL")).scalar_one()
    finally:
        engine.dispose()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    return unseal(stored, MultiFernet([Fernet(derive_key(f"{host.domain}-secret-key"))]))


def ping(host: Host, link: str, secret: str) -> int:
    return requests.get(host.base + PING, headers=sign(link, secret, "GET", PING, b""), timeout=10).status_code


def rotated(host: Host) -> bool:
    """The host's last rotation is complete and its overlap over: one secret, none announced, none kept."""
    settings = peer_settings(host)
    record = settings.get("rotation") or {}
    return bool(record.get("done_id")) and record.get("step") is None and not settings.get("previous_secret")


class Writer(threading.Thread):
    """Adds notes (and, on the service side, time) to one ticket until told to stop."""

    def __init__(self, api: Client, ticket: str, side: str, *, with_time: bool) -> None:
        super().__init__(daemon=True)
        self.api, self.ticket, self.side, self.with_time = api, ticket, side, with_time
        self.stop = threading.Event()
        self.notes: list[str] = []
        self.times: list[str] = []

    def run(self) -> None:
        number = 0
        while not self.stop.is_set() or number < 3:
            note = f"{self.side} note {number}"
            self.api.post(f"/api/tickets/{self.ticket}/notes", {"body": note})
            self.notes.append(note)
            if self.with_time:
                summary = f"{self.side} work {number}"
                hours = {"work_date": "2026-12-04", "hours": "0.25", "summary": summary, "billable": True}
                self.api.post(f"/api/tickets/{self.ticket}/time", hours)
                self.times.append(summary)
            number += 1
            self.stop.wait(0.3)  # a steady trickle of entries, ended at once when the test stops it


def _texts(ticket: dict[str, Any], kind: str, field: str) -> list[str]:
    return [str(item[field]) for item in ticket[kind]]


def test_keys_rotate_on_the_command_line_while_entries_keep_crossing(joined_pair: Pair) -> None:
    s = Scenario(joined_pair)
    lead, service = joined_pair.lead, joined_pair.service
    s.send(authorised_hours="8")
    s.accept()
    s.service.post(f"/api/tickets/{s.service_ticket}/notes", {"body": "On my way"})
    s.wait_lead_status("in_progress")
    before = peer_settings(lead)
    link, old = str(before["link_id"]), str(before["secret"])
    assert peer_settings(service)["secret"] == old and ping(lead, link, old) == ping(service, link, old) == 200

    writers = [
        Writer(s.lead, s.lead_ticket, "lead", with_time=False),
        Writer(s.service, str(s.service_ticket), "service", with_time=True),
    ]
    for writer in writers:
        writer.start()
    eventually(lambda: all(len(w.notes) >= 2 for w in writers), what="entries written before the rotation")
    started = lead.flask("outsource", "partners", "rotate", "Contoso Field Services")
    assert started.returncode == 0, started.stderr
    assert "key rotation with Contoso Field Services started" in started.stdout
    eventually(lambda: rotated(lead) and rotated(service), timeout=60, what="both hosts finishing the rotation")
    written = [len(w.notes) for w in writers]
    eventually(
        lambda: all(len(w.notes) >= n + 2 for w, n in zip(writers, written, strict=True)), what="entries after it"
    )
    for writer in writers:
        writer.stop.set()
    for writer in writers:
        writer.join(timeout=30)

    new = str(peer_settings(lead)["secret"])
    assert peer_settings(service)["secret"] == new != old
    for host in (lead, service):
        assert ping(host, link, old) == 401 and ping(host, link, new) == 200
    lead_writer, service_writer = writers
    eventually(lambda: set(lead_writer.notes) <= set(_texts(s.service_ticket_json(), "notes", "body")), timeout=60)
    eventually(lambda: set(service_writer.notes) <= set(_texts(s.lead_ticket_json(), "notes", "body")), timeout=60)
    eventually(
        lambda: set(service_writer.times) <= set(_texts(s.lead_ticket_json(), "time_entries", "summary")), timeout=60
    )
    for api in (s.lead, s.service):
        assert api.get("/outsource/api/v1/deadletters")["deadletters"] == []
    for host in (lead, service):
        shown = host.log() + started.stdout + started.stderr
        assert old not in shown and new not in shown


def test_a_partner_stopped_during_the_rotation_catches_up_when_it_starts_again(joined_pair: Pair) -> None:
    lead, service = joined_pair.lead, joined_pair.service
    before = peer_settings(lead)
    link, old = str(before["link_id"]), str(before["secret"])
    service.stop()
    try:
        started = lead.flask("outsource", "partners", "rotate", "Contoso Field Services")
        assert started.returncode == 0, started.stderr
        assert "Rotating keys: waiting for Contoso Field Services" in started.stdout
        eventually(lambda: peer_settings(lead)["rotation"]["attempts"] >= 3, timeout=60, what="several rounds")
        assert peer_settings(lead)["secret"] == old  # nothing switches before the partner answers
    finally:
        service.start()
    eventually(lambda: rotated(lead) and rotated(service), timeout=60, what="both hosts finishing the rotation")
    new = str(peer_settings(lead)["secret"])
    assert peer_settings(service)["secret"] == new != old
    for host in (lead, service):
        assert ping(host, link, old) == 401 and ping(host, link, new) == 200
