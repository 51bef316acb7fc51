"""Long partner tickets, against the real Redmine and Request Tracker servers.

A partner ticket grows with every entry. Reading it must not stop at the
partner's first page (Redmine answers at most 100 time entries a request),
and a delivery that looks for its own marker (so that a retried push writes
nothing twice) must not download every message body of the ticket: a counting
HTTP session shows how much each delivery reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from outsource_plugin.adapters.base import EngagementRef, Outbound, PartnerAdapter
from outsource_plugin.adapters.foreign import marker
from outsource_plugin.adapters.redmine import RedmineAdapter
from outsource_plugin.adapters.request_tracker import RequestTrackerAdapter
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.wire import ActionMessage, EntryMessage, OfferMessage, Origin, WireOp
from outsource_plugin.workflow import Action
from tests.adapters.servers.redmine import RedmineServer
from tests.adapters.servers.request_tracker import RequestTrackerServer

REDMINE_TIME_ENTRIES = 230
RT_TRANSACTIONS = 500
#: each partner comment of the long RT ticket: about 300 bytes, so 500 of them are about 150 kB
FILLER = "The technician checked the rack again and logged what was seen. " * 5


class CountingSession(requests.Session):
    """A requests session that counts the requests an adapter makes and the bytes it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0
        self.received = 0

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        self.requests += 1
        self.received += len(response.content)
        return response


def counted(adapter: PartnerAdapter) -> CountingSession:
    """Route ``adapter``'s HTTP calls through a new counting session."""
    session = CountingSession()
    adapter._session = session
    return session


def offer(uid: str, title: str) -> Outbound:
    sent = OfferMessage(offer={"title": title, "description": "A long-running job"})
    return Outbound(message_id=uuid.uuid4().hex, engagement_uid=uid, remote_ref=None, message=sent)


def entry(uid: str, ref: str, kind: str, entry_key: str, data: dict[str, Any]) -> Outbound:
    sent = EntryMessage(entry_key, WireOp.UPSERT, EntryKind(kind), data, Origin(org="Northwind"))
    return Outbound(message_id=uuid.uuid4().hex, engagement_uid=uid, remote_ref=ref, message=sent)


# ---------------------------------------------------------------------------------------------- Redmine
def redmine_adapter(server: RedmineServer) -> RedmineAdapter:
    return RedmineAdapter(1, {"base_url": server.url, "api_key": server.api_key, "project": server.project})


def redmine_time_entries(server: RedmineServer, issue: str) -> list[dict[str, Any]]:
    """Every time entry of the issue, read page by page straight from Redmine."""
    found: list[dict[str, Any]] = []
    with requests.Session() as http:
        while True:
            params: dict[str, Any] = {"issue_id": issue, "limit": 100, "offset": len(found)}
            answer = http.get(
                f"{server.url}/time_entries.json",
                params=params,
                headers={"X-Redmine-API-Key": server.api_key},
                timeout=30,
            ).json()
            found += answer["time_entries"]
            if not answer["time_entries"] or len(found) >= int(answer["total_count"]):
                return found


@pytest.fixture(scope="module")
def long_issue(redmine_server: RedmineServer) -> tuple[str, str]:
    """(engagement uid, Redmine issue id) of an issue with 230 time entries logged by the partner."""
    uid = uuid.uuid4().hex
    issue = str(redmine_adapter(redmine_server).deliver(offer(uid, "Many time entries")).remote_ref)
    with requests.Session() as http:
        http.headers.update({"X-Redmine-API-Key": redmine_server.api_key, "Content-Type": "application/json"})
        for n in range(REDMINE_TIME_ENTRIES):
            body = {
                "issue_id": int(issue),
                "hours": 0.25,
                "comments": f"visit {n}",
                "activity_id": redmine_server.activity_id,
            }
            response = http.post(f"{redmine_server.url}/time_entries.json", json={"time_entry": body}, timeout=30)
            assert response.status_code == 201, response.text
    return uid, issue


def test_redmine_poll_reads_every_time_entry_of_a_long_issue(
    redmine_server: RedmineServer, long_issue: tuple[str, str]
):
    uid, issue = long_issue
    batch = redmine_adapter(redmine_server).fetch_changes(None, [EngagementRef(uid, issue, "in_progress")])
    summaries = {c.data["data"]["summary"] for c in batch.changes if c.data.get("kind") == "time"}
    assert summaries == {f"visit {n}" for n in range(REDMINE_TIME_ENTRIES)}, len(summaries)


def test_redmine_retried_time_push_finds_its_marker_past_the_first_page(
    redmine_server: RedmineServer, long_issue: tuple[str, str]
):
    uid, issue = long_issue
    adapter = redmine_adapter(redmine_server)
    # an old work date sorts the entry last: Redmine lists time entries newest work date first
    message = entry(uid, issue, "time", "lead:time:1", {"hours": "0.5", "work_date": "2020-01-02", "summary": "old"})
    adapter.deliver(message)
    key = marker("lead:time:1", message.message_id)
    entries = redmine_time_entries(redmine_server, issue)
    assert [e["comments"] for e in entries].index(f"old {key}") >= 100, "the pushed entry must sit past page one"
    adapter.deliver(message)  # the answer to the first delivery was lost: the outbox delivers again
    written = [e for e in redmine_time_entries(redmine_server, issue) if key in str(e["comments"])]
    assert len(written) == 1, written


# ---------------------------------------------------------------------------------------------- Request Tracker
def rt_adapter(server: RequestTrackerServer) -> RequestTrackerAdapter:
    return RequestTrackerAdapter(1, {"base_url": server.url, "token": server.token, "queue": server.queue})


@pytest.fixture(scope="module")
def rt_http(rt_server: RequestTrackerServer) -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.headers.update({"Authorization": f"token {rt_server.token}"})
        yield http


def rt_bodies(server: RequestTrackerServer, http: requests.Session, ticket: str) -> list[str]:
    """Every message body of the ticket, read page by page straight from RT."""
    bodies: list[str] = []
    page = 1
    while True:
        answer = http.get(
            f"{server.rest}/ticket/{ticket}/attachments",
            params={"fields": "Content,Filename", "per_page": 100, "page": page},
            timeout=60,
        ).json()
        bodies += [str(a.get("Content") or "") for a in answer["items"] if not a.get("Filename")]
        if page >= int(answer["pages"] or 1):
            return bodies
        page += 1


@pytest.fixture(scope="module")
def long_ticket(rt_server: RequestTrackerServer, rt_http: requests.Session) -> tuple[str, str]:
    """(engagement uid, RT ticket id) of a ticket with 500 partner comments."""
    uid = uuid.uuid4().hex
    ticket = str(rt_adapter(rt_server).deliver(offer(uid, "Many transactions")).remote_ref)
    for n in range(RT_TRANSACTIONS):
        body = {"Content": f"Visit {n}. {FILLER}", "ContentType": "text/plain"}
        response = rt_http.post(f"{rt_server.rest}/ticket/{ticket}/comment", json=body, timeout=60)
        assert response.status_code == 201, response.text
    return uid, ticket


def test_request_tracker_delivery_finds_its_marker_without_reading_every_body(
    rt_server: RequestTrackerServer, rt_http: requests.Session, long_ticket: tuple[str, str]
):
    uid, ticket = long_ticket
    adapter = rt_adapter(rt_server)
    history = rt_http.get(f"{rt_server.rest}/ticket/{ticket}/history", params={"per_page": 1}, timeout=60).json()
    assert int(history["total"]) > RT_TRANSACTIONS
    everything = sum(len(b) for b in rt_bodies(rt_server, rt_http, ticket))
    assert everything > 100_000

    first = entry(uid, ticket, "note", "lead:note:1", {"text": "Bring a spare fan for the café's rack"})
    session = counted(adapter)
    adapter.deliver(first)
    adapter.deliver(first)  # a retry whose first answer was lost (RT may store a non-ASCII body encoded)
    edit = entry(uid, ticket, "note", "lead:note:1", {"text": "Bring two spare fans (Ø 120 mm)"})
    adapter.deliver(edit)
    reject = Outbound(uuid.uuid4().hex, uid, ticket, ActionMessage(Action.REJECT, reason="Still loud"))
    adapter.deliver(reject)
    adapter.deliver(reject)

    bodies = rt_bodies(rt_server, rt_http, ticket)
    assert sum(marker("lead:note:1", first.message_id) in b for b in bodies) == 1
    [edited] = [b for b in bodies if marker("lead:note:1", edit.message_id) in b]
    assert edited.startswith("(edited) Bring two spare fans (Ø 120 mm)"), edited
    assert sum(marker("action:reject:open", reject.message_id) in b for b in bodies) == 1
    # five deliveries on a ticket of 500 transactions: a few small requests each, not the ticket's bodies
    assert session.requests <= 20, session.requests
    assert session.received < everything / 10, (session.received, everything)
