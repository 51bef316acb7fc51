"""The fault suite runs on the cross-host pairs (two real demo hosts, each behind a
``FaultProxy``): ``pair`` runs its jobs in the web processes, ``jobless_pair`` only in
the workers and sync rounds a test starts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cross_host.conftest import Pair, Scenario, jobless_pair, pair, scenario
from tests.faults.ledger import API, LEAD, SERVICE, FaultReport

__all__ = ["jobless_pair", "pair", "scenario"]  # defined in tests/cross_host; this package runs its own pairs


#: the session's report, for the terminal summary (docs/RELIABILITY.md quotes these lines)
REPORTS: list[FaultReport] = []


@pytest.fixture(scope="session")
def fault_report(tmp_path_factory: pytest.TempPathFactory) -> FaultReport:
    report = FaultReport(tmp_path_factory.getbasetemp() / "faults-summary.json")
    REPORTS.append(report)
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for report in REPORTS:
        for row in report.cases:
            terminalreporter.write_line("FAULTS " + " ".join(f"{k}={v}" for k, v in row.items()))
        if report.cases:
            terminalreporter.write_line(report.totals())


def heal(pair: Pair) -> None:
    """Whatever a test broke, the pair is whole again for the tests that follow."""
    pair.to_service.heal()
    pair.to_lead.heal()
    for host in (pair.lead, pair.service):
        if host.process is None:
            host.start()


@pytest.fixture
def healed(pair: Pair) -> Iterator[Pair]:
    yield pair
    heal(pair)


def accepted(s: Scenario) -> Scenario:
    s.send(authorised_hours="3")
    s.accept()
    return s


def sync_round(host_name: str, pair: Pair) -> None:
    """One ``flask outsource sync --once`` on a host whose web process runs no jobs."""
    host = pair.lead if host_name == LEAD else pair.service
    ran = host.flask("outsource", "sync", "--once")
    assert ran.returncode == 0, ran.stderr


def accepted_without_jobs(pair: Pair) -> Scenario:
    """An accepted engagement on hosts that run no jobs: each hop is one sync round."""
    s = Scenario(pair)
    s.lead.post(f"{API}/tickets/{s.lead_ticket}/outsource", {"partner_id": pair.lead_partner_id, "terms": {}})
    s.uid = s.lead_action("send")["engagement"]["uid"]
    sync_round(LEAD, pair)
    customers = s.service.get("/api/customers")["customers"]
    s.service_ticket = str(s.service_action("accept", customer_ref=str(customers[0]["id"]))["ticket_id"])
    sync_round(SERVICE, pair)
    assert s.lead_state()["engagement"]["status"] == "accepted"
    return s
