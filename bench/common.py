"""What every benchmark shares: real host pairs, percentiles, peak RSS and the BENCHMARKS.md log.

The benchmarks reuse the cross-host test machinery (``tests.cross_host``):
two real demo help desks on loopback, each a ``flask run`` process with its
own database, reaching each other through a pass-through ``FaultProxy``.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from tests.cross_host.conftest import Pair, running_pair
from tests.cross_host.hosts import ROOT, Client, Host
from tests.polling import eventually

API = "/outsource/api/v1"
LOG = ROOT / "BENCHMARKS.md"
HEADER = """# Benchmarks

Appended by `make bench` (`python -m bench`): one section per run, newest last.
Figures from one run are measured side by side on the same machine, so compare
ratios within a run rather than absolute figures across runs.
"""


class TempFolders:
    """The one method of pytest's ``TempPathFactory`` that ``running_pair`` uses."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="outsource-bench-"))

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def database_kind(database: str) -> Iterator[None]:
    """Within the block the tests' ``fresh_database`` makes databases of the named kind
    (``sqlite`` or a PostgreSQL server URL)."""
    saved = os.environ.get("OUTSOURCE_TEST_DATABASE_URL")
    if database == "sqlite":
        os.environ.pop("OUTSOURCE_TEST_DATABASE_URL", None)
    else:
        os.environ["OUTSOURCE_TEST_DATABASE_URL"] = database
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("OUTSOURCE_TEST_DATABASE_URL", None)
        else:
            os.environ["OUTSOURCE_TEST_DATABASE_URL"] = saved


@contextmanager
def host_pair(database: str, env: dict[str, str] | None = None, host_class: type[Host] = Host) -> Iterator[Pair]:
    """A lead and a service host on fresh databases of the named kind (``sqlite`` or a PostgreSQL URL),
    served as ``host_class`` says."""
    folders = TempFolders()
    try:
        with database_kind(database), running_pair(folders, env, host_class=host_class) as pair:  # type: ignore[arg-type]
            yield pair
    finally:
        folders.cleanup()


def database_label(database: str) -> str:
    return "SQLite" if database == "sqlite" else "PostgreSQL"


def engine_for(url: str) -> Engine:
    """A direct connection to a host's database, for set-based seeding and for counting what arrived."""
    return create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})


def analyse(url: str) -> None:
    """Bring PostgreSQL's planner statistics up to date, as autovacuum keeps a database in use.

    A bench's database grows from empty within a minute, faster than autovacuum's analyse
    follows: the hosts' plans were then made for tables a hundredth of their size (bench 1's
    bursts on PostgreSQL took 5.6, 7.8 and 8.1 s; with an analyse before each, 4.7, 4.0, 4.2 s).
    SQLite is left alone.
    """
    if not url.startswith("postgresql"):
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def listed(seconds: Iterable[float], places: int = 2) -> str:
    """Every timing of a best-of-N figure, as it is printed beside the best."""
    return ", ".join(f"{s:.{places}f}" for s in seconds)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: the value below which ``pct`` per cent of the sample lies."""
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(values: list[float]) -> dict[str, float]:
    """p50, p95, p99 and mean of a sample in seconds, as milliseconds."""
    return {
        "p50_ms": percentile(values, 50) * 1000,
        "p95_ms": percentile(values, 95) * 1000,
        "p99_ms": percentile(values, 99) * 1000,
        "mean_ms": statistics.fmean(values) * 1000,
    }


#: target 5 of issue 18: a worker's peak RSS over its RSS at rest, with idle engagements and in a burst
RSS_RATIO = 1.1


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) so far, in MiB; read before it exits."""
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """The process's resident set (VmRSS) now, in MiB."""
    return _status_mb(pid, "VmRSS")


def restart_peak_rss(pid: int) -> None:
    """Make the process's peak resident set its resident set now (Linux: 5 to ``clear_refs``), so that
    ``peak_rss_mb`` tells the peak of what follows."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def open_in_progress(pair: Pair, count: int, *, timeout: float = 300) -> list[tuple[str, str]]:
    """Take ``count`` new lead tickets to In Progress across both hosts, through the APIs.

    Returns ``(lead ticket id, service ticket id)`` pairs. The hosts' jobs must
    be running (in the web processes or in workers).
    """
    lead, service = pair.lead_api, pair.service_api

    def send(n: int) -> str:
        ticket = str(lead.post("/api/tickets", {"title": f"Bench ticket {n}", "description": "benchmark"})["id"])
        lead.post(f"{API}/tickets/{ticket}/outsource", {"partner_id": pair.lead_partner_id, "terms": {}})
        lead.post(f"{API}/tickets/{ticket}/outsource/actions", {"action": "send"})
        return ticket

    # setup, not measured: a few clients at once, as the help desks' users would be
    with ThreadPoolExecutor(max_workers=6) as pool:
        lead_tickets = list(pool.map(send, range(count)))
    offers = _wait_folder(service, "service", "waiting_acceptance", count, timeout)
    customer = str(service.get("/api/customers")["customers"][0]["id"])

    def accept(item: dict[str, Any]) -> tuple[str, str]:
        accepted = service.post(
            f"{API}/engagements/{item['id']}/actions", {"action": "accept", "customer_ref": customer}
        )
        service_ticket = str(accepted["ticket_id"])
        service.post(f"/api/tickets/{service_ticket}/notes", {"body": "Work started"})
        return item["uid"], service_ticket

    with ThreadPoolExecutor(max_workers=6) as pool:
        by_uid = dict(pool.map(accept, offers))
    _wait_folder(lead, "lead", "accepted_or_in_progress", count, timeout, status="in_progress")
    uids = {t: lead.get(f"{API}/tickets/{t}/outsource")["engagement"]["uid"] for t in lead_tickets}
    return [(t, by_uid[uids[t]]) for t in lead_tickets]


def _wait_folder(
    api: Client, role: str, folder: str, count: int, timeout: float, status: str | None = None
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def enough() -> bool:
        items: list[dict[str, Any]] = []
        after = None
        while True:
            page = api.get(
                f"{API}/dashboard/{role}/{folder}", params={"limit": 200, **({"after": after} if after else {})}
            )
            items.extend(i for i in page["items"] if status is None or i["status"] == status)
            after = page.get("next")
            if not after:
                break
        found[:] = items
        return len(items) >= count

    eventually(enough, timeout=timeout, interval=0.3, what=f"{count} engagements in {role}/{folder}")
    return found


@dataclass
class Section:
    """One benchmark's figures for BENCHMARKS.md, and whether each target was met."""

    title: str
    lines: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)

    def add(self, line: str) -> None:
        print(f"  {line}", flush=True)
        self.lines.append(line)


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}, load average {load}"
    )


def commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    return result.stdout.strip() + (" + uncommitted changes" if dirty.strip() else "")


def append_log(sections: list[Section], databases: list[str], wall: float, revision: str) -> None:
    """Append this run to BENCHMARKS.md: date, commit (``revision``, read when the run started),
    machine and databases, then each section."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        "",
        f"## {stamp}, commit {revision}",
        "",
        f"Machine: {machine()}; databases: {', '.join(databases)}; wall time {wall:.0f} s.",
        "",
        f"Command: `python -m bench {' '.join(sys.argv[1:])}`",
    ]
    for section in sections:
        body.extend(["", f"### {section.title}", "", *(f"- {line}" for line in section.lines)])
    if not LOG.exists():
        LOG.write_text(HEADER)
    with LOG.open("a") as log:
        log.write("\n".join(body) + "\n")
