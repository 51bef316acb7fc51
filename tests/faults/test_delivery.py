"""Delivery faults: a worker SIGKILLed after the partner applied its message but before
it recorded the delivery, and messages delivered twice, out of order, or replayed.

The receiver must be idempotent (a message applied twice has the effect of once) and
must refuse a replayed signed request; in every case nothing is doubled or lost.
"""

from __future__ import annotations

import json
import subprocess
import threading

import requests

from outsource_plugin.federation.signing import sign
from tests.cross_host.conftest import LINK, Pair, Scenario
from tests.cross_host.hosts import Captured
from tests.faults.conftest import accepted, accepted_without_jobs
from tests.faults.ledger import (
    LEAD,
    SERVICE,
    FaultReport,
    Ledger,
    assert_converged,
    is_push,
    no_dead_letters,
)
from tests.polling import eventually


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    worker.wait(timeout=15)


def test_worker_killed_between_the_partners_answer_and_its_commit(
    jobless_pair: Pair, fault_report: FaultReport
) -> None:
    pair = jobless_pair
    s = accepted_without_jobs(pair)
    ledger = Ledger(s)
    killed = threading.Event()
    pushes: list[tuple[str, str]] = []  # (message id, the partner's answer)
    first = pair.lead.spawn("outsource", "worker", log_name="killed-worker.log")

    def kill_before_relaying(request: Captured, upstream: requests.Response) -> bool:
        if not is_push(request):
            return True
        pushes.append((json.loads(request.body)["id"], str(upstream.json().get("status"))))
        if killed.is_set():
            return True
        first.kill()  # SIGKILL: the partner has applied and answered; the worker never hears it
        first.wait(timeout=15)
        killed.set()
        return False

    pair.to_service.tap = kill_before_relaying
    try:
        mark = ledger.note(LEAD, "applied as the worker died")
        eventually(killed.is_set, timeout=30)
        assert ledger.tokens_on(SERVICE)[mark] == 1
        assert first.returncode == -9
        # The lead never recorded the delivery: once the lease (2 s) runs out, a new worker sends it again.
        second = pair.lead.spawn("outsource", "worker", log_name="second-worker.log")
        try:
            eventually(lambda: len(pushes) >= 2, timeout=30)
            assert pushes[:2] == [(pushes[0][0], "applied"), (pushes[0][0], "duplicate")]
            ledger.note(LEAD, "after the takeover")
            ledger.note(SERVICE, "pulled by the new worker")
            tally = assert_converged(ledger, "in_progress")
        finally:
            stop(second)
    finally:
        pair.to_service.heal()
    no_dead_letters(s)
    fault_report.record("worker-sigkill-before-commit", 1, tally, redelivered=len(pushes) - 1)


def resigned(request: Captured, secret: str) -> Captured:
    """The same message under a fresh signature and request id: a sender's honest retry."""
    headers = {**request.headers, **sign(LINK, secret, request.method, request.path, request.body)}
    return Captured(request.method, request.path, headers, request.body)


def test_messages_delivered_twice_out_of_order_and_replayed(
    scenario: Scenario, healed: Pair, fault_report: FaultReport
) -> None:
    s = accepted(scenario)
    pair, ledger = s.pair, Ledger(s)
    proxy = pair.to_service
    pair.to_lead.down = True  # the service pulls nothing: the lead's pushes are the only path

    # Every push arrives twice: the proxy sends the very same signed request again at once.
    captured: list[Captured] = []
    echoes: list[requests.Response] = []

    def twice(request: Captured, upstream: requests.Response) -> bool:
        if is_push(request) and upstream.status_code == 200:
            echoes.append(proxy.forward(request))
            captured.append(request)  # after its echo: the lists are equal whenever a tap is not mid-way
        return True

    proxy.tap = twice
    ledger.note(LEAD, "sent twice")
    ledger.time(LEAD, "sent twice")
    eventually(lambda: ledger.tokens_on(SERVICE)[ledger.written[-1].token] == 1 and len(echoes) == len(captured))
    assert [(e.status_code, "replayed" in e.json()["message"]) for e in echoes] == [(401, True)] * len(captured)

    # The same message again under a fresh signature (a sender retrying): answered as done.
    again = proxy.forward(resigned(captured[0], pair.secret))
    assert again.status_code == 200 and again.json()["status"] == "duplicate"

    # One message is held back (the proxy acknowledges it) and reaches the service after the next.
    held: list[Captured] = []

    def hold_first(request: Captured) -> tuple[int, bytes] | None:
        if is_push(request) and not held:
            held.append(request)
            return 200, b'{"status": "applied"}'
        return None

    proxy.tap = None
    proxy.intercept = hold_first
    seen = len(proxy.seen)
    ledger.note(LEAD, "held back")
    eventually(lambda: held)
    ledger.charge(LEAD, "overtakes")
    eventually(lambda: any(st == 409 and m == "POST" for _, m, _, st in proxy.seen[seen:]))
    assert all(ledger.tokens_on(SERVICE)[w.token] == 0 for w in ledger.written[-2:])
    late = proxy.forward(held[0])
    assert late.status_code == 200 and late.json()["status"] == "applied"
    eventually(lambda: ledger.tokens_on(SERVICE)[ledger.written[-1].token] == 1)

    # Captured signed requests replayed later: refused, nothing written.
    replays = [proxy.forward(request) for request in (captured[0], held[0])]
    assert [r.status_code for r in replays] == [401, 401]
    pair.to_lead.heal()
    ledger.note(SERVICE, "reply")
    tally = assert_converged(ledger, "in_progress")
    no_dead_letters(s)
    injected = len(echoes) + 1 + len(held) + len(replays)
    fault_report.record("duplicate-out-of-order-replay", injected, tally, replays_refused=len(echoes) + len(replays))
