"""``flask outsource db ...`` and ``flask outsource secrets ...``: schema and key upkeep.

Kept apart from ``cli.py`` so that the day-to-day commands stay short; both
groups are added to ``flask outsource`` there. Failures become a one-line
message and exit status 1, never a traceback.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy.engine import Connection, Engine

from outsource_plugin.db import migrate
from outsource_plugin.db.partner_secrets import rotate_all
from outsource_plugin.errors import MigrationFailed, SecretKeyError
from outsource_plugin.state import current_outsource

db_cli = AppGroup("db", help="The plugin's own tables: Alembic migrations (version table outsource_alembic_version).")
secrets_cli = AppGroup("secrets", help="Partner secrets encrypted at rest with OUTSOURCE_SECRET_KEYS.")


def _bind() -> Engine | Connection:
    return current_outsource().session.get_bind()


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade the plugin's tables to REVISION (default: head)."""
    try:
        migrate.upgrade(_bind(), revision)
    except MigrationFailed as err:
        raise click.ClickException(err.message) from err
    _echo_current()


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Downgrade the plugin's tables to REVISION ('base' drops them all)."""
    try:
        migrate.downgrade(_bind(), revision)
    except MigrationFailed as err:
        raise click.ClickException(err.message) from err
    _echo_current()


@db_cli.command("current")
def db_current() -> None:
    """Print the plugin schema's revision here and the newest one shipped."""
    _echo_current()


def _echo_current() -> None:
    current = migrate.current(_bind())
    click.echo(f"outsource schema: {current or 'base (no tables)'} (head: {migrate.head_revision()})")


@secrets_cli.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored partner secret with the first of OUTSOURCE_SECRET_KEYS."""
    session = current_outsource().session
    try:
        changed = rotate_all(session)
    except SecretKeyError as err:
        session.rollback()
        raise click.ClickException(err.message) from err
    session.commit()
    click.echo(f"re-encrypted the secrets of {changed} partner(s) with the first key")
