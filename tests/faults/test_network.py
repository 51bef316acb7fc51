"""Network faults between the two running hosts: a partner that refuses connections for
several rounds, a storm of 500/503/429 answers, answers slower than the HTTP timeout,
and the partner process SIGKILLed in the middle of a batch of deliveries.

Each case writes notes, time and charges on both sides around the fault and ends
with ``assert_converged``: nothing lost, nothing doubled, statuses agree.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest
import requests

from tests.cross_host.conftest import Pair, Scenario
from tests.cross_host.hosts import Captured
from tests.faults.conftest import accepted
from tests.faults.ledger import (
    LEAD,
    SERVICE,
    FaultReport,
    Ledger,
    assert_converged,
    holds,
    is_push,
    no_dead_letters,
    partner_poll_error,
    polls_again,
    push_answers,
)
from tests.polling import eventually


def test_partner_refusing_connections_for_several_rounds(
    scenario: Scenario, healed: Pair, fault_report: FaultReport
) -> None:
    s = accepted(scenario)
    pair, ledger = s.pair, Ledger(s)
    pair.to_service.refuse()
    pair.to_lead.refuse()
    lead_side = [ledger.note(LEAD, "lead, partner down"), ledger.time(LEAD), ledger.charge(LEAD)]
    lead_side.append(ledger.note(LEAD, "lead internal, partner down", internal=True))
    service_side = [ledger.note(SERVICE, "service, partner down"), ledger.time(SERVICE), ledger.charge(SERVICE)]
    eventually(lambda: partner_poll_error(s.lead, pair.lead_partner_id) is not None)
    eventually(lambda: partner_poll_error(s.service, pair.service_partner_id) is not None)

    def nothing_crossed() -> bool:
        on_lead, on_service = ledger.tokens_on(LEAD), ledger.tokens_on(SERVICE)
        return not any(on_service[t] for t in lead_side) and not any(on_lead[t] for t in service_side)

    holds(nothing_crossed, 3.0)  # six poll rounds and many delivery attempts of each host
    assert "ConnectionError" in (partner_poll_error(s.lead, pair.lead_partner_id) or "")
    for proxy in (pair.to_service, pair.to_lead):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=2).close()
    pair.to_service.heal()
    pair.to_lead.heal()

    tally = assert_converged(ledger, "in_progress")
    no_dead_letters(s)
    polls_again(s.lead, pair.lead_partner_id)
    polls_again(s.service, pair.service_partner_id)
    fault_report.record("partner-refuses-connections", 2, tally, outage_s=3.0)


def test_500_503_and_429_storm_in_both_directions(scenario: Scenario, healed: Pair, fault_report: FaultReport) -> None:
    s = accepted(scenario)
    pair, ledger = s.pair, Ledger(s)
    answered = len(pair.to_service.answered), len(pair.to_lead.answered)
    # Pushes and polls alike meet the storm: there is no quiet path around it.
    every_call = "/federation/v1/"
    for proxy in (pair.to_service, pair.to_lead):
        proxy.fail(500, path=every_call, times=2)
        proxy.fail(503, path=every_call, headers={"Retry-After": "1"}, times=2)
        proxy.fail(429, path=every_call, headers={"Retry-After": "1"}, times=2)
    for side in (LEAD, SERVICE):
        ledger.note(side, f"{side} in the storm")
        ledger.time(side)
        ledger.charge(side)
    ledger.note(LEAD, "lead private", internal=True)

    eventually(lambda: pair.to_service.faults == [] and pair.to_lead.faults == [])
    tally = assert_converged(ledger, "in_progress")
    statuses = [st for _, _, st in pair.to_service.answered[answered[0] :] + pair.to_lead.answered[answered[1] :]]
    assert sorted(statuses) == [429] * 4 + [500] * 4 + [503] * 4
    no_dead_letters(s)
    fault_report.record("http-500-503-429", len(statuses), tally)


def test_answers_slower_than_the_http_timeout_are_retried_once_applied(
    scenario: Scenario, healed: Pair, fault_report: FaultReport
) -> None:
    s = accepted(scenario)
    pair, ledger = s.pair, Ledger(s)
    # Only the lead's pushes can carry the notes (the service's pull path is cut), and the
    # service answers later than the lead's OUTSOURCE_HTTP_TIMEOUT (5 s).
    answers: list[str] = []

    def record(request: Captured, upstream: requests.Response) -> bool:
        answers.extend(push_answers(request, upstream))
        return True

    pair.to_lead.down = True
    pair.to_service.tap = record
    pair.to_service.hang = 5.5
    first = ledger.note(LEAD, "slow partner")
    # The push times out at the lead, though the partner gets and applies it after the delay ...
    eventually(lambda: ledger.tokens_on(SERVICE)[first] == 1, timeout=15)
    pair.to_service.hang = 0.0
    hung = pair.to_service.hung
    # ... so the lead's retry is answered as a duplicate, and nothing doubles.
    # (the two answers may be relayed in either order: the first push's answer and the retry's
    # both wait on the partner, and on a loaded machine either thread of the proxy may finish first)
    eventually(lambda: "duplicate" in answers, timeout=20)
    assert answers.count("applied") == 1, answers
    ledger.note(LEAD, "after the slow partner")
    pair.to_lead.heal()
    ledger.note(SERVICE, "reply")
    ledger.time(SERVICE)
    tally = assert_converged(ledger, "in_progress")
    assert hung >= 1
    no_dead_letters(s)
    fault_report.record("read-timeout", hung, tally, retried_as_duplicate=answers.count("duplicate"))


def test_partner_killed_mid_batch_then_restarted(scenario: Scenario, healed: Pair, fault_report: FaultReport) -> None:
    s = accepted(scenario)
    pair, ledger = s.pair, Ledger(s)
    # A batch of lead entries waits while the partner is unreachable both ways ...
    pair.to_service.down = pair.to_lead.down = True
    for i in range(3):
        ledger.note(LEAD, f"batch note {i}")
        ledger.time(LEAD, f"batch time {i}")
        ledger.charge(LEAD, f"batch charge {i}")
    # ... then the lead pushes it, and the service is SIGKILLed after it applied the third
    # message, before that answer reaches the lead.
    killed = threading.Event()
    applied: list[str] = []

    def kill_after_three(request: Captured, upstream: requests.Response) -> bool:
        if not is_push(request) or killed.is_set():
            return True
        applied.append(json.loads(request.body)["id"])
        if len(applied) < 3:
            return True
        pair.service.stop(kill=True)
        killed.set()
        return False

    pair.to_service.tap = kill_after_three
    pair.to_service.down = False
    eventually(killed.is_set, timeout=20)
    ledger.note(LEAD, "while the partner is dead")
    eventually(lambda: partner_poll_error(s.lead, pair.lead_partner_id) is not None)
    pair.service.start()
    pair.to_lead.heal()
    ledger.note(SERVICE, "back after the kill")
    ledger.charge(SERVICE, "back after the kill")
    tally = assert_converged(ledger, "in_progress")
    no_dead_letters(s)
    fault_report.record("partner-sigkill-mid-batch", 1, tally, applied_before_kill=len(applied))
