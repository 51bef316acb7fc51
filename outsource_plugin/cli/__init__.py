"""``flask outsource ...``: run sync rounds and workers, and look after dead letters."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from outsource_plugin.cli.invitations import invitations_command, invite_command, join_command, revoke_command
from outsource_plugin.cli.maintenance import db_cli, secrets_cli
from outsource_plugin.cli.ops import backfill_command, reconcile_command
from outsource_plugin.cli.partners import partners
from outsource_plugin.cli.status import status_command
from outsource_plugin.db.outbox import dead_letters, retry_dead_letter
from outsource_plugin.errors import NotFound
from outsource_plugin.state import current_outsource

outsource_cli = AppGroup("outsource", help="Outsourcing: sync, workers and dead letters.")
outsource_cli.add_command(status_command)
outsource_cli.add_command(db_cli)
outsource_cli.add_command(secrets_cli)
outsource_cli.add_command(partners)
for _command in (invite_command, invitations_command, revoke_command, join_command):
    partners.add_command(_command)
outsource_cli.add_command(backfill_command)
outsource_cli.add_command(reconcile_command)


@outsource_cli.command("sync")
@click.option("--once", is_flag=True, required=True, help="Run one full round and exit (for cron and tests).")
def sync_command(once: bool) -> None:
    """Deliver the outbox, poll every partner and expire offers, once."""
    from outsource_plugin.jobs.scheduler import run_once

    click.echo(json.dumps(run_once(current_outsource())))


@outsource_cli.command("worker")
def worker_command() -> None:
    """Run the jobs in this process until interrupted."""
    from outsource_plugin.jobs.scheduler import run_worker

    click.echo("outsource worker started", err=True)
    run_worker(current_app._get_current_object())  # type: ignore[attr-defined]


@outsource_cli.group("deadletters")
def deadletters() -> None:
    """Deliveries that failed for good."""


@deadletters.command("list")
def deadletters_list() -> None:
    for m in dead_letters(current_outsource().session):
        click.echo(f"{m.id}\t{m.kind.value}\t{m.engagement_uid}\t{m.attempts}\t{m.last_error}")


@deadletters.command("retry")
@click.argument("message_id", type=int)
def deadletters_retry(message_id: int) -> None:
    session = current_outsource().session
    try:
        retry_dead_letter(session, message_id)
    except NotFound as err:
        raise click.ClickException(f"message {message_id} is not a dead letter") from err
    session.commit()
    click.echo(f"message {message_id} queued again")
