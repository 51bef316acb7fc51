"""``flask outsource backfill`` and ``flask outsource reconcile``."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from outsource_plugin.cli.common import clear_errors, find_partner, progress
from outsource_plugin.core.status_counts import CountDrift, check
from outsource_plugin.db.models import Engagement
from outsource_plugin.state import current_outsource
from outsource_plugin.sync.backfill import backfill, check_backfillable
from outsource_plugin.sync.reconcile import Report, reconcile_and_commit, syncing_engagements
from outsource_plugin.workflow import Side


def _find_engagement(session: Session, ref: str) -> Engagement:
    """An engagement by id or uid."""
    text = ref.strip()
    found = session.get(Engagement, int(text)) if text.isdigit() else None
    if found is None:
        found = session.scalars(select(Engagement).where(Engagement.uid == text)).first()
    if found is None:
        raise click.UsageError(f"no engagement with id or uid '{ref}'")
    return found


@click.command("backfill")
@click.option("--engagement", "engagement_ref", metavar="ID", help="One engagement (id or uid).")
@click.option("--partner", "partner_ref", metavar="P", help="Every syncing engagement with this partner (id or name).")
@click.option("--dry-run", is_flag=True, help="Say what would be sent; send and change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def backfill_command(engagement_ref: str | None, partner_ref: str | None, dry_run: bool, as_json: bool) -> None:
    """Send accepted engagements the notes and attachments their lead ticket had before.

    Without --engagement or --partner, every lead engagement whose sync is
    active. The sync rules hold (nothing internal, nothing while suspended or
    after Complete), and a second run sends nothing twice.
    """
    state = current_outsource()
    session = state.session
    if engagement_ref and partner_ref:
        raise click.UsageError("give --engagement or --partner, not both")
    if engagement_ref:
        engagement = _find_engagement(session, engagement_ref)
        with clear_errors(session):
            check_backfillable(engagement)
        uids = [engagement.uid]
    else:
        partner = find_partner(session, partner_ref) if partner_ref else None
        uids = [e.uid for e in syncing_engagements(state, partner) if e.role is Side.LEAD]
    results = []
    for uid in progress(uids, "Backfilling"):
        engagement = session.scalars(select(Engagement).where(Engagement.uid == uid)).one()
        with clear_errors(session):
            results.append(backfill(state, engagement))
        if dry_run:
            session.rollback()
        else:
            session.commit()
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "engagements": [r.to_json() for r in results]}, indent=2))
        return
    verb = "would send" if dry_run else "sent"
    for r in results:
        click.echo(f"{r.engagement_uid} (ticket {r.ticket_id}): {verb} {len(r.sent)} {', '.join(r.sent)}".rstrip())
    click.echo(f"{len(results)} engagements, {verb} {sum(len(r.sent) for r in results)} entries")


@click.command("reconcile")
@click.option("--engagement", "engagement_ref", metavar="ID", help="Only this engagement (id or uid).")
@click.option("--partner", "partner_ref", metavar="P", help="Only engagements with this partner (id or name).")
@click.option("--repair", is_flag=True, help="Re-send what we owe the partner; recorded in the audit history.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def reconcile_command(engagement_ref: str | None, partner_ref: str | None, repair: bool, as_json: bool) -> None:
    """Compare both sides of every syncing engagement (Accepted, In Progress), and the
    dashboard's status counts with the engagements.

    Exits 1 when drift remains (with --repair: drift this side could not
    repair, such as the partner's own entries or a status), else 0.
    """
    state = current_outsource()
    if engagement_ref and partner_ref:
        raise click.UsageError("give --engagement or --partner, not both")
    counts = check(state.session, repair=repair)
    state.session.commit()
    partner = find_partner(state.session, partner_ref) if partner_ref else None
    engagements = syncing_engagements(state, partner)
    if engagement_ref:
        chosen = _find_engagement(state.session, engagement_ref)
        if chosen not in engagements:
            raise click.ClickException(
                f"engagement {chosen.id} is {chosen.status.label}: only syncing engagements "
                "(Accepted or In Progress, with an active partner) are reconciled"
            )
        engagements = [chosen]
    report = reconcile_and_commit(
        state,
        engagements,
        repair=repair,
        progress=lambda uids: progress(uids, "Reconciling"),
    )
    if as_json:
        click.echo(
            json.dumps({**report.to_json(), "status_counts": [_count_json(d, repair) for d in counts]}, indent=2)
        )
    else:
        click.echo(_text(report, counts, repair))
    if report.unresolved or (counts and not repair):
        click.get_current_context().exit(1)


def _count_json(drift: CountDrift, repaired: bool) -> dict[str, object]:
    return {
        "role": drift.role.value,
        "status": drift.status.value,
        "kept": drift.kept,
        "counted": drift.counted,
        "repaired": repaired,
    }


def _text(report: Report, counts: list[CountDrift], counts_repaired: bool) -> str:
    lines = [f"status count  {d}{'  (repaired)' if counts_repaired else ''}" for d in counts]
    lines += [
        f"{d.engagement_uid}  {d.kind.value}  {d.detail}{'  (repaired)' if d.repaired else ''}" for d in report.drifts
    ]
    lines += [f"{uid}  not supported: {why}" for uid, why in report.not_supported.items()]
    repaired = sum(d.repaired for d in report.drifts)
    lines.append(
        f"{report.checked} engagements checked, {len(report.drifts)} drifts, {repaired} repaired, "
        f"{len(report.not_supported)} not supported"
    )
    return "\n".join(lines)
