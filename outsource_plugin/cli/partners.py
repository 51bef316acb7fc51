"""``flask outsource partners ...``: register, edit, test and disable partners from a shell.

The commands go through the same core as the JSON API (``partners.py``):
the same validation, and secret settings stay write-only, so no command
ever prints one.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click
from flask.cli import AppGroup
from marshmallow import Schema, fields
from sqlalchemy import select

from outsource_plugin.adapters.registry import adapter_class
from outsource_plugin.cli.common import clear_errors, find_partner
from outsource_plugin.core.partners import check_connection, create_partner, update_partner
from outsource_plugin.core.present import partner_json
from outsource_plugin.db.models import Partner
from outsource_plugin.jobs.rotate import move
from outsource_plugin.partnership import rotation
from outsource_plugin.partnership.leaving import leave_partnership
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from outsource_plugin.validation.schemas import LeaveSchema, TermsSchema, load

partners = AppGroup("partners", help="Partner organisations: list, add, edit, test, rotate keys, disable.")


def shown(partner: Partner) -> dict[str, Any]:
    return partner_json(partner, adapter_class(partner.adapter).secret_fields, Permission.ALL)


def key_values(values: tuple[str, ...], schema: Schema, option: str) -> dict[str, Any]:
    """``KEY=VALUE`` options as a dict; whole numbers become ints where the schema wants one."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"{option} takes KEY=VALUE, got '{item}'")
        key = key.strip()
        if isinstance(schema.fields.get(key), fields.Integer):
            try:
                out[key] = int(value)
            except ValueError as err:
                raise click.UsageError(f"{option} {key} must be a whole number, got '{value}'") from err
        else:
            out[key] = value
    return out


def _config(adapter: str, pairs: tuple[str, ...], config_json: str | None) -> dict[str, Any]:
    """The adapter settings given as --config-json and --config pairs (pairs win)."""
    config: dict[str, Any] = {}
    if config_json is not None:
        try:
            loaded = json.loads(config_json)
        except ValueError as err:
            raise click.UsageError(f"--config-json is not valid JSON: {err}") from err
        if not isinstance(loaded, dict):
            raise click.UsageError("--config-json must be a JSON object")
        config.update(loaded)
    with clear_errors(current_outsource().session):
        schema = adapter_class(adapter).config_schema()
    config.update(key_values(pairs, schema, "--config"))
    return config


def _options(command: Any) -> Any:
    """The options ``add`` and ``edit`` share."""
    for option in reversed(
        (
            click.option("--config", "config_pairs", multiple=True, metavar="KEY=VALUE", help="An adapter setting."),
            click.option("--config-json", help="Adapter settings as one JSON object."),
            click.option("--terms", "terms_pairs", multiple=True, metavar="KEY=VALUE", help="A default term."),
            click.option("--customer-ref", help="The host customer this partner is invoiced as."),
        )
    ):
        command = option(command)
    return command


@partners.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def partners_list(as_json: bool) -> None:
    """Every partner, active or not (secrets only say whether they are set)."""
    session = current_outsource().session
    rows = [shown(p) for p in session.scalars(select(Partner).order_by(Partner.name))]
    if as_json:
        click.echo(json.dumps({"partners": rows}, indent=2))
        return
    table = [("ID", "NAME", "ADAPTER", "ACTIVE", "SECRETS SET", "LAST POLL")]
    for p in rows:
        secrets = ",".join(p["secrets_set"]) or "-"
        table.append(
            (str(p["id"]), p["name"], p["adapter"], "yes" if p["active"] else "no", secrets, p["last_poll_at"] or "-")
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@partners.command("add")
@click.option("--name", required=True, help="The partner's name, unique.")
@click.option("--adapter", required=True, help="The partner system: peer, redmine, request_tracker, ...")
@_options
def partners_add(
    name: str,
    adapter: str,
    config_pairs: tuple[str, ...],
    config_json: str | None,
    terms_pairs: tuple[str, ...],
    customer_ref: str | None,
) -> None:
    """Register a partner, validated as the API validates it."""
    state = current_outsource()
    body: dict[str, Any] = {
        "name": name,
        "adapter": adapter,
        "config": _config(adapter, config_pairs, config_json),
        "default_terms": key_values(terms_pairs, TermsSchema(), "--terms"),
        "customer_ref": customer_ref,
    }
    with clear_errors(state.session):
        partner = create_partner(state, body)
        state.session.commit()
    click.echo(json.dumps(shown(partner), indent=2))


@partners.command("edit")
@click.argument("partner_ref", metavar="ID")
@click.option("--name", help="A new name.")
@click.option("--adapter", help="A new partner system (give its settings too).")
@_options
def partners_edit(
    partner_ref: str,
    name: str | None,
    adapter: str | None,
    config_pairs: tuple[str, ...],
    config_json: str | None,
    terms_pairs: tuple[str, ...],
    customer_ref: str | None,
) -> None:
    """Change what the options name; unnamed settings, secrets included, keep their value."""
    state = current_outsource()
    partner = find_partner(state.session, partner_ref)
    body: dict[str, Any] = {}
    if name is not None:
        body["name"] = name
    if adapter is not None:
        body["adapter"] = adapter
    if config_pairs or config_json is not None:
        given = _config(adapter or partner.adapter, config_pairs, config_json)
        unchanged_adapter = adapter is None or adapter == partner.adapter
        body["config"] = {**partner.config, **given} if unchanged_adapter else given
    if terms_pairs:
        body["default_terms"] = {**partner.default_terms, **key_values(terms_pairs, TermsSchema(), "--terms")}
    if customer_ref is not None:
        body["customer_ref"] = customer_ref
    if not body:
        raise click.UsageError("nothing to change: give at least one option")
    with clear_errors(state.session):
        update_partner(state, partner, body)
        state.session.commit()
    click.echo(json.dumps(shown(partner), indent=2))


@partners.command("test")
@click.argument("partner_ref", metavar="ID")
def partners_test(partner_ref: str) -> None:
    """Ask the partner's system for a round trip; exit 1 with the reason when it fails."""
    state = current_outsource()
    partner = find_partner(state.session, partner_ref)
    result = check_connection(state, partner)
    if not result.passed:
        raise click.ClickException(f"connection test of {partner.name} failed: {result.message}")
    click.echo(f"connection test of {partner.name} passed: {result.message}")


@partners.command("disable")
@click.argument("partner_ref", metavar="ID")
@click.option("--reason", default="", help="Why the partnership ends: the partner is told and shows it.")
def partners_disable(partner_ref: str, reason: str) -> None:
    """Disabled partners keep their history but cannot be chosen or polled; the partner is told why."""
    state = current_outsource()
    with clear_errors(state.session):
        reason = load(LeaveSchema(), {"reason": reason})["reason"]
        partner = leave_partnership(state.session, find_partner(state.session, partner_ref), reason)
        state.session.commit()
    click.echo(f"partner {partner.id} ({partner.name}) disabled")


@partners.command("rotate")
@click.argument("partner_ref", metavar="ID")
def partners_rotate(partner_ref: str) -> None:
    """Rotate a peer's keys over the signed channel: the first move is made now, the rest by the
    rotation job of the running host or worker. No key is printed."""
    state = current_outsource()
    partner = find_partner(state.session, partner_ref)
    with clear_errors(state.session):
        started = rotation.begin(partner, time.time())
        state.session.commit()
    step = rotation.our_move(partner.config, time.time())
    if step is not None:
        move(state, partner, step)
    verb = "started" if started else "already under way"
    click.echo(f"key rotation with {partner.name} {verb}: {rotation.describe(partner.config, partner.name)}")
