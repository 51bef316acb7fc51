"""Alembic environment for the plugin's own tables.

It is only ever run through ``outsource_plugin.db.migrate``, which hands over an
open connection of the host's engine: the plugin never reads an alembic.ini
and never touches the host's own tables or version table.
"""

from __future__ import annotations

from alembic import context

from outsource_plugin.db.migrate import configure_context

configure_context(context)
with context.begin_transaction():
    context.run_migrations()
