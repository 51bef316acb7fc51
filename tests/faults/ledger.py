"""What a fault case wrote on the two tickets, and the check that both sides converged.

Every entry a case writes carries a unique token (``[1a2b3c4d]``) in its note
body, time summary or charge name, so it can be found on the other side
whatever shape it arrives in (the lead's time reaches the service as a note).
``assert_converged`` waits until both outsource statuses agree and every entry
is present exactly once where the sync rules say it crosses, and nowhere else.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.cross_host.conftest import Scenario
from tests.cross_host.hosts import Captured, Client
from tests.polling import eventually

API = "/outsource/api/v1"
TOKEN = re.compile(r"\[[0-9a-f]{8}\]")
LEAD, SERVICE = "lead", "service"


def token() -> str:
    return f"[{uuid.uuid4().hex[:8]}]"


@dataclass(frozen=True)
class Written:
    token: str
    side: str
    kind: str
    crosses: bool


@dataclass
class Ledger:
    """The entries one case writes through the hosts' JSON APIs, and whether each should cross."""

    s: Scenario
    written: list[Written] = field(default_factory=list)

    def api(self, side: str) -> Client:
        return self.s.lead if side == LEAD else self.s.service

    def ticket(self, side: str) -> str | None:
        return self.s.lead_ticket if side == LEAD else self.s.service_ticket

    def _write(self, side: str, kind: str, body: dict[str, Any], mark: str, crosses: bool) -> str:
        self.api(side).post(f"/api/tickets/{self.ticket(side)}/{kind}", body)
        self.written.append(Written(mark, side, kind, crosses))
        return mark

    def note(self, side: str, label: str = "note", *, internal: bool = False, crosses: bool = True) -> str:
        """A note; the lead's internal notes never leave the lead."""
        mark = token()
        body = {"body": f"{label} {mark}", "internal": internal}
        return self._write(side, "notes", body, mark, crosses and not (side == LEAD and internal))

    def time(self, side: str, label: str = "time", *, crosses: bool = True) -> str:
        mark = token()
        body = {"work_date": "2026-01-05", "hours": "0.75", "summary": f"{label} {mark}"}
        return self._write(side, "time", body, mark, crosses)

    def charge(self, side: str, label: str = "charge", *, crosses: bool = True) -> str:
        mark = token()
        body = {"name": f"{label} {mark}", "quantity": "2", "unit_price": "15.00", "unit_cost": "9.50"}
        return self._write(side, "charges", body, mark, crosses)

    def tokens_on(self, side: str) -> Counter[str]:
        """How often each token appears among the ticket's notes, time entries and charges."""
        ticket = self.api(side).get(f"/api/tickets/{self.ticket(side)}")
        texts = [n["body"] for n in ticket["notes"]]
        texts += [t["summary"] for t in ticket["time_entries"]] + [c["name"] for c in ticket["charges"]]
        return Counter(mark for text in texts for mark in TOKEN.findall(text))


@dataclass(frozen=True)
class Tally:
    status: str
    entries_checked: int
    lost: int
    doubled: int


def expected(w: Written) -> tuple[int, int]:
    """(count on the lead, count on the service) the sync rules call for."""
    other = 1 if w.crosses else 0
    return (1, other) if w.side == LEAD else (other, 1)


def agreed_status(s: Scenario, status: str | None = None) -> str:
    """Wait until both sides' outsource statuses agree (and are ``status``, when given)."""

    def agree() -> str:
        lead, service = s.lead_state()["engagement"]["status"], s.service_engagement()["status"]
        assert lead == service and status in (None, lead), (lead, service)
        return str(lead)

    return eventually(agree, timeout=40)


def assert_converged(ledger: Ledger, status: str | None = None, *, timeout: float = 40) -> Tally:
    """Both sides agree on the outsource status, and every written entry is present exactly
    once on its own side and once (or not at all) on the other, as the rules say; no token
    is doubled on either ticket, written by this case or not."""
    s = ledger.s
    agreed = agreed_status(s, status)

    def settled() -> tuple[Counter[str], Counter[str]]:
        lead, service = ledger.tokens_on(LEAD), ledger.tokens_on(SERVICE)
        wrong = {
            f"{w.side} {w.kind} {w.token}": (lead[w.token], service[w.token])
            for w in ledger.written
            if (lead[w.token], service[w.token]) != expected(w)
        }
        assert not wrong, f"(lead, service) counts differ from the rules: {wrong}"
        return lead, service

    lead, service = eventually(settled, timeout=timeout)
    doubled = [mark for counts in (lead, service) for mark, n in counts.items() if n > 1]
    assert doubled == [], f"doubled: {doubled}"
    lost = sum(max(0, want - got) for w in ledger.written for got, want in _pairs(lead, service, w))
    assert agreed_status(s, agreed) == agreed
    return Tally(agreed, 2 * len(ledger.written), lost, len(doubled))


def holds(check: Callable[[], bool], seconds: float, *, interval: float = 0.1) -> None:
    """Assert ``check`` stays true for ``seconds`` (something must *not* happen meanwhile)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check()
        time.sleep(interval)


def partner_poll_error(api: Client, partner_id: int) -> str | None:
    return api.get(f"{API}/partners/{partner_id}")["last_poll_error"]


def polls_again(api: Client, partner_id: int) -> None:
    """The host's poller reaches its partner again (its last poll error is cleared)."""

    def clear() -> bool:
        error = partner_poll_error(api, partner_id)
        assert error is None, error
        return True

    eventually(clear)


def no_dead_letters(s: Scenario) -> None:
    """Neither side gave up on a message of this engagement (their errors shown if one did)."""
    dead = dead_letters_of(s.lead, s.uid) + dead_letters_of(s.service, s.uid)
    assert dead == [], [(d["kind"], d["last_error"]) for d in dead]


def _pairs(lead: Counter[str], service: Counter[str], w: Written) -> list[tuple[int, int]]:
    """(found, wanted) on the lead, then on the service."""
    want_lead, want_service = expected(w)
    return [(lead[w.token], want_lead), (service[w.token], want_service)]


def is_push(request: Captured) -> bool:
    return request.method == "POST" and request.path.endswith("/messages")


def push_answers(request: Captured, upstream: requests.Response) -> list[str]:
    """What the partner answered each pushed message: a single push, or each item of a batch (a
    worker takes every due message of a partner at once, so under load a retry can go in one)."""
    if request.method != "POST":
        return []
    if request.path.endswith("/messages"):
        return [str(upstream.json().get("status"))]
    if request.path.endswith("/messages/batch"):
        return [str(r.get("status") or r.get("error")) for r in upstream.json().get("results", [])]
    return []


def dead_letters_of(api: Client, uid: str | None) -> list[dict[str, Any]]:
    return [d for d in api.get(f"{API}/deadletters")["deadletters"] if d["engagement_uid"] == uid]


@dataclass
class FaultReport:
    """One line per case (``FAULTS case=... injected=N entries_checked=M lost=0 doubled=0``),
    printed and kept in ``path`` as JSON so the totals can be quoted."""

    path: Path
    cases: list[dict[str, Any]] = field(default_factory=list)

    def record(self, case: str, injected: int, tally: Tally, **figures: Any) -> None:
        row = {
            "case": case,
            "injected": injected,
            "entries_checked": tally.entries_checked,
            "lost": tally.lost,
            "doubled": tally.doubled,
            "status": tally.status,
            **figures,
        }
        self.cases.append(row)
        print("\nFAULTS " + " ".join(f"{k}={v}" for k, v in row.items()))
        self.path.write_text(json.dumps(self.cases, indent=2))

    def totals(self) -> str:
        keys = ("injected", "entries_checked", "lost", "doubled")
        sums = {k: sum(int(c[k]) for c in self.cases) for k in keys}
        return f"FAULTS TOTAL cases={len(self.cases)} " + " ".join(f"{k}={v}" for k, v in sums.items())
