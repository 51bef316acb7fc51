"""``flask outsource status``: each partner's sync health, for operators and cron checks.

It prints a table (or ``--json``) and exits 1 when anything is unhealthy
(the database does not answer, or a partner lags beyond its bound), so a
cron job or a container health check can use it as is. The operator runs it
on the server, so it shows every figure, as a Partner Management user would
see them through the health endpoint.
"""

from __future__ import annotations

import json
from datetime import datetime

import click
from flask.cli import with_appcontext

from outsource_plugin.ops.health import HealthReport, check_health
from outsource_plugin.state import current_outsource

COLUMNS = ("PARTNER", "ACTIVE", "LAST POLL", "LAST DELIVERY", "PENDING", "DEAD", "LAG S", "MAX S", "STATE")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "never"


def render_table(report: HealthReport) -> str:
    """The report as aligned text columns, one line per partner, then the verdict."""
    rows = [COLUMNS]
    for p in report.partners:
        rows.append(
            (
                p.name,
                "yes" if p.active else "no",
                _when(p.last_poll_at),
                _when(p.last_delivery_at),
                str(p.pending),
                str(p.dead_letters),
                f"{p.lag:.0f}",
                f"{p.max_lag:.0f}",
                "ok" if p.healthy else "LAGGING",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    summary = report.summary()
    verdict = "healthy" if report.healthy else "UNHEALTHY: " + ", ".join(summary["failing"])
    return "\n".join([*lines, verdict])


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead of a table.")
@with_appcontext
def status_command(as_json: bool) -> None:
    """Sync health per partner; exit code 1 when unhealthy."""
    report = check_health(current_outsource())
    click.echo(json.dumps(report.as_json(), indent=2) if as_json else render_table(report))
    if not report.healthy:
        raise click.exceptions.Exit(1)
