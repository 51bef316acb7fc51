"""Two outsource actions that cross in flight, fired at once against two running hosts.

For every pair of docs/races.md, a fresh ticket is taken to the pair's starting
status, both actions are fired at the same moment (two threads behind a
barrier; an auto-decline fires when the offer's deadline passes), and the test
waits until neither host owes the other a message. Both hosts must then show
the same outsource status, the one the rule table names for what took effect,
with no sync error on either side, and nothing written on the losing branch
may have crossed to the other host.

Each pair runs a few times: which action reaches which host first varies from
run to run, and every order must settle the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.cross_host.conftest import Pair, Scenario
from tests.cross_host.hosts import Client
from tests.cross_host.test_transitions_cross_host import drive, quick_pair  # noqa: F401  (a fixture)
from tests.polling import eventually

API = "/outsource/api/v1"
REPEAT = 3
#: the winning rank: the lead's record decides the offer's fate; completion beats submit and reject
WINS = 2
LOSES = 1


@dataclass(frozen=True)
class Move:
    """One side's act in a race: how to fire it, where it leads, and how it ranks."""

    name: str
    to: str
    rank: int
    fire: Callable[[Scenario, Client], bool]
    #: a note written right after the act on the acting side; it must not cross if the act lost
    follow_up: Callable[[Scenario, Client, Any], None] | None = None
    #: where that note takes the act's status when the act won (a note starts the work)
    noted: str | None = None


class RaceScenario(Scenario):
    """A scenario that looks its service engagement up once, so that a fired action goes at once."""

    known_id: int | None = None

    def service_engagement_id(self) -> int:
        if self.known_id is None:
            self.known_id = super().service_engagement_id()
        return self.known_id


def _status(response: Any) -> bool:
    assert response.status_code in (200, 201, 409), (response.status_code, response.text)
    return bool(response.status_code != 409)


def _lead_action(action: str, **body: Any) -> Callable[[Scenario, Client], bool]:
    def fire(s: Scenario, client: Client) -> bool:
        path = f"{API}/tickets/{s.lead_ticket}/outsource/actions"
        return _status(client.call("POST", path, json={"action": action, **body}))

    return fire


def _service_action(action: str, **body: Any) -> Callable[[Scenario, Client], bool]:
    def fire(s: Scenario, client: Client) -> bool:
        extra = dict(body)
        if action == "accept":
            extra["customer_ref"] = str(client.get("/api/customers")["customers"][0]["id"])
        path = f"{API}/engagements/{s.service_engagement_id()}/actions"
        response = client.call("POST", path, json={"action": action, **extra})
        if response.status_code == 200 and action == "accept":
            s.service_ticket = str(response.json()["ticket_id"])
        return _status(response)

    return fire


def _ticket_complete(side: str) -> Callable[[Scenario, Client], bool]:
    def fire(s: Scenario, client: Client) -> bool:
        ticket = s.lead_ticket if side == "lead" else s.service_ticket
        client.patch(f"/api/tickets/{ticket}", {"status": "Complete"})
        return True

    return fire


def _deadline(s: Scenario, client: Client) -> bool:
    """The lead's deadline job fires on its own; whether it did shows in the lead's history."""
    return True


def _note(side: str) -> Callable[[Scenario, Client, Any], None]:
    def write(s: Scenario, client: Client, marker: Any) -> None:
        ticket = s.lead_ticket if side == "lead" else s.service_ticket
        client.post(f"/api/tickets/{ticket}/notes", {"body": f"losing branch {marker}"})

    return write


CANCEL = Move("cancel", "canceled", WINS, _lead_action("cancel"))
AUTO_DECLINE = Move("auto_decline", "declined", WINS, _deadline)
ACCEPT = Move("accept", "accepted", LOSES, _service_action("accept"), _note("service"), "in_progress")
DECLINE = Move("decline", "declined", LOSES, _service_action("decline", reason="no capacity"))
SUBMIT = Move("submit", "waiting_approval", LOSES, _service_action("submit"), _note("service"))
COMPLETE = Move("complete", "complete", WINS, _lead_action("complete"))
APPROVE = Move("approve", "complete", WINS, _lead_action("approve"))
REJECT = Move("reject", "in_progress", LOSES, _lead_action("reject", reason="the rack is still down"), _note("lead"))
LEAD_TICKET_COMPLETE = Move("lead_ticket_complete", "complete", WINS, _ticket_complete("lead"))
SERVICE_TICKET_COMPLETE = Move("service_ticket_complete", "complete", WINS, _ticket_complete("service"))

RACES: list[tuple[str, Move, Move]] = [
    ("assigned", CANCEL, ACCEPT),
    ("assigned", CANCEL, DECLINE),
    ("assigned", AUTO_DECLINE, ACCEPT),
    ("assigned", AUTO_DECLINE, DECLINE),
    ("assigned", CANCEL, AUTO_DECLINE),
    ("assigned", ACCEPT, DECLINE),
    *[
        (start, first, second)
        for start in ("accepted", "in_progress")
        for first, second in (
            (COMPLETE, SUBMIT),
            (LEAD_TICKET_COMPLETE, SUBMIT),
            (SERVICE_TICKET_COMPLETE, SUBMIT),
            (COMPLETE, SERVICE_TICKET_COMPLETE),
            (COMPLETE, LEAD_TICKET_COMPLETE),
        )
    ],
    ("waiting_approval", REJECT, SERVICE_TICKET_COMPLETE),
    ("waiting_approval", APPROVE, SERVICE_TICKET_COMPLETE),
    ("waiting_approval", REJECT, APPROVE),
    ("waiting_approval", REJECT, LEAD_TICKET_COMPLETE),
    ("waiting_approval", APPROVE, LEAD_TICKET_COMPLETE),
]


def _client(s: Scenario, move: Move) -> Client:
    on_lead = move in (CANCEL, AUTO_DECLINE, COMPLETE, APPROVE, REJECT, LEAD_TICKET_COMPLETE)
    return s.pair.lead.client() if on_lead else s.pair.service.client()


def _pending(client: Client, partner_id: int) -> int:
    answer = client.call("GET", f"{API}/health").json()
    return sum(p["pending"] for p in answer["partners"] if p["id"] == partner_id)


def _settled(s: Scenario) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both hosts owe each other nothing and agree on the status."""

    def check() -> tuple[dict[str, Any], dict[str, Any]] | None:
        if _pending(s.lead, s.pair.lead_partner_id) or _pending(s.service, s.pair.service_partner_id):
            return None
        lead, service = s.lead_state()["engagement"], s.service_engagement()
        assert lead["status"] == service["status"], (lead["status"], service["status"])
        return lead, service

    return eventually(check, timeout=40)


def _took_effect(s: Scenario, move: Move, fired: bool) -> bool:
    if move is not AUTO_DECLINE:
        return fired
    history = s.lead.get(f"{API}/tickets/{s.lead_ticket}/outsource/history")["history"]
    return any(e["action"] == "auto_decline" for e in history)


def _wait_for_deadline(s: Scenario) -> None:
    deadline = datetime.fromisoformat(s.lead_state()["engagement"]["acceptance_deadline"])
    eventually(lambda: datetime.now(UTC) >= deadline, timeout=30, interval=0.02)


def _race(pair: Pair, start: str, first: Move, second: Move, run: int) -> None:
    s = RaceScenario(pair)
    drive(s, start)
    s.service_engagement_id()
    moves = (first, second)
    clients = [_client(s, m) for m in moves]
    fired: list[bool] = [False, False]
    errors: list[BaseException] = []
    gate = threading.Barrier(2)

    def run_move(i: int) -> None:
        try:
            gate.wait(timeout=60)
            fired[i] = moves[i].fire(s, clients[i])
            if fired[i] and moves[i].follow_up is not None:
                moves[i].follow_up(s, clients[i], f"{moves[i].name} {run}")  # type: ignore[misc]
        except BaseException as err:  # noqa: BLE001  (re-raised in the test's thread below)
            errors.append(err)

    if AUTO_DECLINE in moves:
        _wait_for_deadline(s)
    threads = [threading.Thread(target=run_move, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not errors, errors

    lead, service = _settled(s)
    effective = [m for m, f in zip(moves, fired, strict=True) if _took_effect(s, m, f)]
    assert effective, (first.name, second.name, fired)
    winner = max(effective, key=lambda m: m.rank)
    settled = winner.noted or winner.to
    assert lead["status"] == service["status"] == settled, (first.name, second.name, fired, lead, service)
    assert lead["last_sync_error"] is None and service["last_sync_error"] is None, (lead, service)
    for move in effective:
        if move.follow_up is None or move is winner or _client(s, move).base == _client(s, winner).base:
            continue  # on one host the acts do not cross: the second follows the first
        marker = f"losing branch {move.name} {run}"
        other = s.service_ticket_json() if move in (REJECT,) else s.lead_ticket_json()
        assert not [n for n in other["notes"] if marker in n["body"]], (move.name, other["notes"])
    dead = s.lead.get(f"{API}/deadletters")["deadletters"] + s.service.get(f"{API}/deadletters")["deadletters"]
    assert not [d for d in dead if d["engagement_uid"] == s.uid], dead


def _ids(case: tuple[str, Move, Move]) -> str:
    start, first, second = case
    return f"{start}-{first.name}-vs-{second.name}"


@pytest.mark.parametrize("case", [c for c in RACES if AUTO_DECLINE not in c[1:]], ids=_ids)
def test_crossing_actions_settle_on_one_status(pair: Pair, case: tuple[str, Move, Move]) -> None:
    start, first, second = case
    for run in range(REPEAT):
        _race(pair, start, first, second, run)


@pytest.mark.parametrize("case", [c for c in RACES if AUTO_DECLINE in c[1:]], ids=_ids)
def test_crossing_the_acceptance_deadline_settles_on_one_status(
    quick_pair: Pair,  # noqa: F811
    case: tuple[str, Move, Move],
) -> None:
    start, first, second = case
    for run in range(REPEAT):
        _race(quick_pair, start, first, second, run)
