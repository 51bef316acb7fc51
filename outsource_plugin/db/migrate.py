"""Schema migrations for the plugin's own tables, run in code on the host's engine.

The plugin ships its Alembic scripts inside the package and keeps its own
version table (``outsource_alembic_version``), so a host that uses Alembic for
its own schema keeps its ``alembic_version`` history untouched, and a host
that does not needs no ``alembic.ini``. Autogenerate only ever sees the
``outsource_*`` tables.
"""

from __future__ import annotations

import logging
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from outsource_plugin.db.models import Base, UTCDateTime
from outsource_plugin.errors import MigrationFailed

log = logging.getLogger(__name__)

VERSION_TABLE = "outsource_alembic_version"
SCRIPT_LOCATION = "outsource_plugin.db:migrations"
#: the revision that creates the tables as ``create_all`` made them before migrations existed
BASELINE = "0001"
#: PostgreSQL advisory lock key: two processes starting at once migrate one after the other
_PG_LOCK_KEY = 0x6F75747372630001


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate compares the plugin's tables only; the host's are not ours to drop."""
    if type_ == "table":
        return bool(name) and str(name).startswith("outsource_") and name != VERSION_TABLE
    return True


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """The host's own autogenerate leaves the plugin's tables alone: pass this as ``include_object``.

    The plugin's tables live in the host's database but not in the host's metadata, so a
    host's ``flask db migrate`` (Flask-Migrate) or ``alembic revision --autogenerate`` would
    otherwise see every ``outsource_*`` table, index and the plugin's version table as removed,
    and write a migration that drops them.
    """
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return not (table or "").startswith("outsource_")


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write ``UTCDateTime`` as the plain column type it stores, so scripts need no plugin import."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _options(connection: Connection) -> dict[str, Any]:
    return {
        "target_metadata": Base.metadata,
        "version_table": VERSION_TABLE,
        "render_as_batch": connection.dialect.name == "sqlite",
        "include_name": _include_name,
        "render_item": _render_item,
        "compare_type": True,
    }


def configure_context(context: Any) -> None:
    """Called by ``migrations/env.py``: configure Alembic on the connection ``_run`` handed over."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise MigrationFailed("the plugin's migrations run only through outsource_plugin.db.migrate (no offline mode)")
    context.configure(connection=connection, **_options(connection))


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def current_revision(connection: Connection) -> str | None:
    """The plugin schema's revision in this database; None before the first upgrade."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _adopt_created_tables(connection: Connection, config: Config) -> None:
    """A database whose tables ``create_all`` made before migrations existed is the baseline."""
    if current_revision(connection) is None and inspect(connection).has_table("outsource_partner"):
        log.info("plugin tables found without %s: stamping revision %s", VERSION_TABLE, BASELINE)
        command.stamp(config, BASELINE)


def _engine(bind: Engine | Connection) -> Engine:
    """Migrations take a connection of their own (and commit it), whatever the host hands over."""
    return bind if isinstance(bind, Engine) else bind.engine


def _run(bind: Engine | Connection, step: str, revision: str) -> None:
    with _engine(bind).begin() as connection:
        _lock(connection)
        config = _config(connection)
        try:
            if step == "upgrade":
                _adopt_created_tables(connection, config)
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
        except CommandError as err:
            raise MigrationFailed(f"cannot {step} the outsource tables to '{revision}': {err}") from err


def upgrade(bind: Engine | Connection, revision: str = "head") -> None:
    """Bring the plugin's tables up to ``revision`` (default: the newest)."""
    _run(bind, "upgrade", revision)


def downgrade(bind: Engine | Connection, revision: str) -> None:
    """Take the plugin's tables back to ``revision``; ``base`` drops them all."""
    _run(bind, "downgrade", revision)


def current(bind: Engine | Connection) -> str | None:
    """The revision the plugin's tables are at in the database behind ``bind``."""
    with _engine(bind).connect() as connection:
        return current_revision(connection)


def head_revision() -> str | None:
    """The newest revision shipped with this version of the plugin."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def schema_differences(bind: Engine | Connection) -> list[Any]:
    """What autogenerate would change: empty when the database matches the models."""
    with _engine(bind).connect() as connection:
        context = MigrationContext.configure(connection, opts=_options(connection))
        return list(compare_metadata(context, Base.metadata))
