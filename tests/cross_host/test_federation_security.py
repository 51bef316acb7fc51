"""The signed partner API of a running host, attacked over raw HTTP.

Every request here is built by hand with ``outsource_plugin.federation.signing.sign`` and
sent straight to the service host's federation API (not through the fault
proxy). Each refused request must leave the service exactly as it was: the
engagement's status, the dashboard counts and the partner feed's sequence
(shown by a normal offer still crossing afterwards).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from outsource_plugin.db.models import Engagement
from outsource_plugin.db.outbox import enqueue
from outsource_plugin.federation.signing import LINK as LINK_HEADER
from outsource_plugin.federation.signing import REQUEST_ID, SIGNATURE, sign
from outsource_plugin.wire import EntryMessage
from tests.blueprints.fuzz_cases import MALFORMED_MESSAGES
from tests.cross_host.conftest import LINK, Pair, Scenario
from tests.cross_host.hosts import free_port
from tests.polling import eventually

API = "/outsource/api/v1"
FEDERATION = "/outsource/federation/v1"
OTHER_LINK = "fabrikam-contoso"


def call(
    base: str,
    method: str,
    path: str,
    *,
    link: str,
    secret: str,
    payload: Any = None,
    now: float | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """One signed request to ``base`` + ``path`` (``path`` as signed, query included)."""
    body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
    signed = headers if headers is not None else sign(link, secret, method, path, body, now=now)
    extra = {"Content-Type": "application/json"} if payload is not None else {}
    return requests.request(method, base + path, data=body, headers={**signed, **extra}, timeout=10)


def body_of(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def message(seq: int, kind: str, uid: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "seq": seq, "kind": kind, "engagement_uid": uid, "payload": payload}


def cancel(seq: int, uid: str) -> dict[str, Any]:
    return message(seq, "action", uid, {"action": "cancel", "reason": "not yours", "actor": "Mallory"})


def offer(seq: int, uid: str) -> dict[str, Any]:
    return message(
        seq,
        "offer",
        uid,
        {
            "offer": {"title": "Fabrikam printer", "description": "Jammed", "lead": "Fabrikam"},
            "terms": {"rate_type": "hourly", "outsource_rate": "50.00"},
            "ticket_number": "FAB-1",
            "acceptance_deadline": None,
        },
    )


class Service:
    """What can be observed of the service host over its APIs."""

    def __init__(self, pair: Pair) -> None:
        self.pair = pair
        self.api = pair.service_api
        self.base = pair.service.base

    def dashboard(self) -> dict[str, Any]:
        return self.api.get(f"{API}/dashboard")["folders"]

    def engagement(self, engagement_id: int) -> dict[str, Any]:
        return self.api.get(f"{API}/engagements/{engagement_id}")

    def snapshot(self, *engagement_ids: int) -> dict[str, Any]:
        return {
            "dashboard": self.dashboard(),
            "engagements": {
                i: {k: self.engagement(i)[k] for k in ("status", "updated_at", "last_sync_error", "cancel_reason")}
                for i in engagement_ids
            },
        }

    def ping(self, *, link: str = LINK, secret: str | None = None, now: float | None = None) -> requests.Response:
        return call(self.base, "GET", f"{FEDERATION}/ping", link=link, secret=secret or self.pair.secret, now=now)


@pytest.fixture(scope="module")
def service(pair: Pair) -> Service:
    return Service(pair)


@pytest.fixture(scope="module")
def offered(pair: Pair) -> Scenario:
    """A Northwind ticket offered to Contoso through the normal flow, waiting for acceptance."""
    pair.to_service.faults.clear()
    pair.to_lead.faults.clear()
    pair.to_service.down = pair.to_lead.down = False
    scenario = Scenario(pair)
    scenario.send(authorised_hours="2")
    return scenario


@pytest.fixture(scope="module")
def fabrikam(pair: Pair) -> Iterator[tuple[int, str]]:
    """A second peer partner of the service host, Fabrikam, with its own link and secret.

    Its base URL is a closed port: the service's poller fails quietly on it.
    Disabled when the module ends so it stops being polled.
    """
    secret = secrets.token_hex(24)
    created = pair.service_api.post(
        f"{API}/partners",
        {
            "name": "Fabrikam Facilities",
            "adapter": "peer",
            "config": {
                "base_url": f"http://127.0.0.1:{free_port()}/outsource",
                "link_id": OTHER_LINK,
                "secret": secret,
            },
        },
    )
    yield int(created["id"]), secret
    pair.service_api.post(f"{API}/partners/{created['id']}/disable")


def assert_untouched(service: Service, before: dict[str, Any], *engagement_ids: int) -> None:
    """Nothing written, and the normal Northwind -> Contoso flow still works."""
    assert service.snapshot(*engagement_ids) == before
    assert service.ping().status_code == 200
    fresh = Scenario(service.pair)
    fresh.send()  # waits until the offer is Assigned on the service host
    counts = service.dashboard()["service"]
    assert counts["waiting_acceptance"] == before["dashboard"]["service"]["waiting_acceptance"] + 1
    fresh.lead_action("cancel", reason="only a probe")
    fresh.wait_service_status("canceled")


def test_a_correctly_signed_ping_is_answered(service: Service) -> None:
    answer = service.ping()
    assert answer.status_code == 200 and answer.json() == {"org": "Contoso Field Services"}


WHY = {
    "no headers": "unknown partner link",
    "link only": "unsigned",
    "no signature": "unsigned",
    "wrong secret": "bad signature",
    "tampered body": "bad signature",
    "other path": "bad signature",
    "stale": "stale",
    "future": "stale",
    "long id": "malformed request id",
}


@pytest.mark.parametrize("case", list(WHY))
def test_a_badly_signed_message_is_401_and_writes_nothing(case: str, service: Service, offered: Scenario) -> None:
    engagement_id = offered.service_engagement_id()
    before = service.snapshot(engagement_id)
    path = f"{FEDERATION}/messages"
    payload = cancel(1_000_000, offered.uid or "")  # a sequence far ahead: never applied, only probed
    body = body_of(payload)
    headers = sign(LINK, service.pair.secret, "POST", path, body)
    if case == "no headers":
        headers = {}
    elif case == "link only":
        headers = {LINK_HEADER: LINK}
    elif case == "no signature":
        headers.pop(SIGNATURE)
    elif case == "wrong secret":
        headers = sign(LINK, secrets.token_hex(24), "POST", path, body)
    elif case == "tampered body":
        payload["payload"]["reason"] = "changed after signing"
    elif case == "other path":
        headers = sign(LINK, service.pair.secret, "POST", f"{FEDERATION}/ping", body)
    elif case == "stale":
        headers = sign(LINK, service.pair.secret, "POST", path, body, now=time.time() - 1000)
    elif case == "future":
        headers = sign(LINK, service.pair.secret, "POST", path, body, now=time.time() + 1000)
    elif case == "long id":
        headers[REQUEST_ID] = "x" * 65
    answer = call(service.base, "POST", path, link=LINK, secret="", payload=payload, headers=headers)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "not_authenticated", answer.text
    assert WHY[case] in answer.json()["message"], answer.text
    assert_untouched(service, before, engagement_id)


def test_a_stale_timestamp_is_refused_even_on_ping(service: Service) -> None:
    assert service.ping(now=time.time() - 1000).status_code == 401
    assert service.ping(now=time.time() - 10).status_code == 200


def test_an_unknown_link_id_is_401(service: Service, offered: Scenario) -> None:
    engagement_id = offered.service_engagement_id()
    before = service.snapshot(engagement_id)
    assert service.ping(link="nobody-contoso").status_code == 401
    answer = call(
        service.base,
        "POST",
        f"{FEDERATION}/messages",
        link="nobody-contoso",
        secret=service.pair.secret,
        payload=cancel(1_000_000, offered.uid or ""),
    )
    assert answer.status_code == 401, answer.text
    assert_untouched(service, before, engagement_id)


def test_a_replayed_request_is_401(service: Service, offered: Scenario) -> None:
    engagement_id = offered.service_engagement_id()
    before = service.snapshot(engagement_id)
    for path in (f"{FEDERATION}/ping", f"{FEDERATION}/changes?after=0&limit=1"):
        headers = sign(LINK, service.pair.secret, "GET", path, b"")
        first = call(service.base, "GET", path, link=LINK, secret="", headers=headers)
        again = call(service.base, "GET", path, link=LINK, secret="", headers=headers)
        assert first.status_code == 200, first.text
        assert again.status_code == 401 and "replayed" in again.json()["message"], again.text
    assert_untouched(service, before, engagement_id)


def test_a_message_about_another_partners_engagement_is_refused(
    service: Service, offered: Scenario, fabrikam: tuple[int, str]
) -> None:
    fabrikam_id, fabrikam_secret = fabrikam
    engagement_id = offered.service_engagement_id()
    uid = offered.uid or ""
    before = service.snapshot(engagement_id)
    path = f"{FEDERATION}/messages"
    assert service.ping(link=OTHER_LINK, secret=fabrikam_secret).status_code == 200
    assert service.ping(link=OTHER_LINK, secret=service.pair.secret).status_code == 401
    assert service.ping(link=LINK, secret=fabrikam_secret).status_code == 401
    entry = message(
        1,
        "entry",
        uid,
        {"entry_key": "lead:note:1", "op": "upsert", "kind": "note", "data": {"text": "x", "internal": False}},
    )
    for attack in (cancel(1, uid), offer(1, uid), entry):
        answer = call(service.base, "POST", path, link=OTHER_LINK, secret=fabrikam_secret, payload=attack)
        assert answer.status_code in (403, 404), (attack["kind"], answer.status_code, answer.text)
    assert service.snapshot(engagement_id) == before
    assert service.engagement(engagement_id)["partner"]["name"] == "Northwind IT"

    # The refusals consumed nothing of Fabrikam's feed: its message 1 is still the next one.
    own_uid = uuid.uuid4().hex
    first = offer(1, own_uid)
    headers = sign(OTHER_LINK, fabrikam_secret, "POST", path, body_of(first))
    answer = call(service.base, "POST", path, link=OTHER_LINK, secret="", payload=first, headers=headers)
    assert answer.json() == {"status": "applied", "applied": 1}, answer.text
    # the very same request again (same id, same signature) is a replay
    replay = call(service.base, "POST", path, link=OTHER_LINK, secret="", payload=first, headers=headers)
    assert replay.status_code == 401 and "replayed" in replay.json()["message"], replay.text
    repeat = call(service.base, "POST", path, link=OTHER_LINK, secret=fabrikam_secret, payload=offer(1, own_uid))
    assert repeat.json() == {"status": "duplicate", "applied": 1}, repeat.text
    gap = call(service.base, "POST", path, link=OTHER_LINK, secret=fabrikam_secret, payload=cancel(3, own_uid))
    assert gap.status_code == 409 and gap.json()["expected"] == 2, gap.text
    items = service.api.get(f"{API}/dashboard/service/waiting_acceptance?limit=500")["items"]
    own = [i for i in items if i["uid"] == own_uid]
    assert len(own) == 1 and own[0]["partner"]["id"] == fabrikam_id
    counts = service.dashboard()
    assert counts["service"]["waiting_acceptance"] == before["dashboard"]["service"]["waiting_acceptance"] + 1

    # Northwind cannot touch Fabrikam's engagement either, even with its next sequence number.
    feed = call(
        service.pair.lead.base, "GET", f"{FEDERATION}/changes?after=0&limit=500", link=LINK, secret=service.pair.secret
    ).json()["changes"]
    northwind_next = max(item["seq"] for item in feed) + 1
    answer = call(
        service.base, "POST", path, link=LINK, secret=service.pair.secret, payload=cancel(northwind_next, own_uid)
    )
    assert answer.status_code in (403, 404), answer.text

    # Fabrikam's own cancel, in sequence, applies to its own engagement.
    answer = call(service.base, "POST", path, link=OTHER_LINK, secret=fabrikam_secret, payload=cancel(2, own_uid))
    assert answer.json() == {"status": "applied", "applied": 2}, answer.text
    canceled = service.api.get(f"{API}/dashboard/service/canceled?limit=500")["items"]
    assert [i["uid"] for i in canceled if i["uid"] == own_uid] == [own_uid]
    after = service.snapshot(engagement_id)
    assert after["engagements"] == before["engagements"]
    assert_untouched(service, after, engagement_id)


def test_a_malformed_message_is_400_naming_the_field_and_writes_nothing(service: Service, offered: Scenario) -> None:
    """Every malformed shape of the fuzz suite, from Northwind itself with its next number: a 400
    that names the field, and nothing written (its number is still free: the next offer takes it)."""
    engagement_id = offered.service_engagement_id()
    before = service.snapshot(engagement_id)
    path = f"{FEDERATION}/messages"
    lead, secret = service.pair.lead.base, service.pair.secret
    # the host's attachment limit is the default 25 MB: the fuzz suite's 1000-byte case fits it
    shapes = list(MALFORMED_MESSAGES)
    for label, kind, payload, field in shapes:
        uid = uuid.uuid4().hex if kind == "offer" else offered.uid or ""

        def send(kind: str = kind, payload: Any = payload, uid: str = uid) -> tuple[int, Any] | None:
            feed = call(lead, "GET", f"{FEDERATION}/changes?after=0&limit=500", link=LINK, secret=secret).json()
            attack = message(max(item["seq"] for item in feed["changes"]) + 1, kind, uid, payload)
            answer = call(service.base, "POST", path, link=LINK, secret=secret, payload=attack)
            # a message of Northwind's own still in flight: try again (a Response is falsy on 4xx)
            return None if answer.status_code == 409 else (answer.status_code, answer.json())

        status, body = eventually(send)
        assert status == 400, (label, status, body)
        assert body["error"] == "validation_failed" and field in body["message"] and body["details"], (label, body)
    assert service.snapshot(engagement_id) == before
    assert_untouched(service, before, engagement_id)


def test_a_peers_malformed_message_is_dead_lettered_there_and_skipped_here(pair: Pair) -> None:
    """A faulty peer's message: the receiver answers its push 400 and the sender dead-letters it;
    the receiver's poller then finds it in the sender's feed, records a sync error on the
    engagement, writes nothing and goes on with the rest of the feed."""
    scenario = Scenario(pair)
    scenario.send()
    service_ticket = scenario.accept()
    pair.to_service.down = True  # the lead's poller cannot read the service's feed until the push is refused
    try:
        engine = create_engine(pair.service.database_url)
        with Session(engine) as session:
            engagement = session.scalars(select(Engagement).where(Engagement.uid == scenario.uid)).one()
            entry = {
                "entry_key": "service:time:faulty",
                "op": "upsert",
                "kind": "time",
                "data": {"work_date": "2026-12-01", "hours": "-7.50", "resource": "Mallory"},
                "origin": {"side": "service", "org": "Contoso", "user": "Mallory", "at": "2026-12-01T10:00:00+00:00"},
            }
            enqueue(session, engagement, EntryMessage.from_wire(entry))
            session.commit()
        engine.dispose()
        dead = eventually(
            lambda: [d for d in scenario.service.get(f"{API}/deadletters")["deadletters"] if d["kind"] == "entry"]
        )
        assert "400" in dead[0]["last_error"] and "payload.data.hours" in dead[0]["last_error"], dead
    finally:
        pair.to_service.down = False
    error = eventually(lambda: scenario.lead_state()["engagement"]["last_sync_error"])
    assert "payload.data.hours" in error, error
    scenario.service.post(f"/api/tickets/{service_ticket}/notes", {"body": "after the faulty one"})
    eventually(lambda: "after the faulty one" in [n["body"] for n in scenario.lead_ticket_json()["notes"]])
    assert scenario.lead_ticket_json()["time_entries"] == []


def test_a_disabled_partner_link_is_401(service: Service, fabrikam: tuple[int, str]) -> None:
    fabrikam_id, fabrikam_secret = fabrikam
    assert service.ping(link=OTHER_LINK, secret=fabrikam_secret).status_code == 200
    service.api.post(f"{API}/partners/{fabrikam_id}/disable")
    assert service.ping(link=OTHER_LINK, secret=fabrikam_secret).status_code == 401


def test_secret_rotation_accepts_old_and_new_until_the_old_is_dropped(service: Service, offered: Scenario) -> None:
    pair = service.pair
    partner_url = f"{API}/partners/{pair.service_partner_id}"
    config = service.api.get(partner_url)["config"]
    assert "secret" not in config and "previous_secret" not in config
    old, new = pair.secret, secrets.token_hex(24)
    engagement_id = offered.service_engagement_id()
    before = service.snapshot(engagement_id)
    try:
        rotated = service.api.patch(partner_url, {"config": {**config, "secret": new, "previous_secret": old}})
        assert rotated["secrets_set"] == ["previous_secret", "secret"]
        assert "secret" not in rotated["config"] and "previous_secret" not in rotated["config"]
        assert service.ping(secret=old).status_code == 200
        assert service.ping(secret=new).status_code == 200
        assert service.ping(secret=secrets.token_hex(24)).status_code == 401
        assert service.ping(secret=new, now=time.time() - 1000).status_code == 401
    finally:
        restored = service.api.patch(partner_url, {"config": {**config, "secret": old, "previous_secret": None}})
    assert restored["secrets_set"] == ["secret"]
    assert service.ping(secret=old).status_code == 200
    assert service.ping(secret=new).status_code == 401
    assert service.snapshot(engagement_id) == before
    assert_untouched(service, before, engagement_id)


def test_the_offer_still_goes_through_after_every_attack(offered: Scenario) -> None:
    offered.accept()
    offered.lead.post(f"/api/tickets/{offered.lead_ticket}/notes", {"body": "after the attacks"})
    eventually(lambda: [n["body"] for n in offered.service_ticket_json()["notes"]].count("after the attacks") == 1)
    assert [n["body"] for n in offered.lead_ticket_json()["notes"]].count("after the attacks") == 1
    assert offered.service_engagement()["status"] == offered.lead_state()["engagement"]["status"] == "accepted"
