"""The Flask extension object: ``Outsourcing(app, host=...)`` or ``init_app``.

The composition root: it wires the layers together (blueprints, CLI, metrics, jobs, the
host's change hook), so it imports them all and nothing in the package imports it. The
state it creates lives in ``outsource_plugin.state``; ``current_outsource`` and
``OutsourceState`` are re-exported here for hosts that import them from this module.
"""

from __future__ import annotations

from flask import Flask, current_app

from outsource_plugin.blueprints import register_blueprints
from outsource_plugin.cli import outsource_cli
from outsource_plugin.config import apply_defaults
from outsource_plugin.db.migrate import upgrade
from outsource_plugin.db.secretbox import check_keys
from outsource_plugin.host.protocol import HostAdapter, HostChanges
from outsource_plugin.host.sqlite import prepare_sqlite
from outsource_plugin.jobs.scheduler import start_scheduler
from outsource_plugin.notify.queue import queue_mail_before_commit
from outsource_plugin.ops.metrics import init_metrics
from outsource_plugin.state import OutsourceState, current_outsource
from outsource_plugin.sync.capture import on_host_changes

__all__ = ["OutsourceState", "Outsourcing", "current_outsource"]


class Outsourcing:
    """Mount outsourcing into a host help desk.

    ``host`` is the host adapter: the only way the plugin reaches the host's
    tickets and users (see ``outsource_plugin.host.protocol``).
    """

    def __init__(self, app: Flask | None = None, *, host: HostAdapter | None = None) -> None:
        self.host = host
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, host: HostAdapter | None = None) -> None:
        if "outsource" in app.extensions:
            raise RuntimeError("Outsourcing is already registered on this app")
        host = host or self.host
        if host is None:
            raise RuntimeError("Outsourcing needs a host adapter: Outsourcing(app, host=...)")
        with app.app_context():
            host.check_configuration()
        config = apply_defaults(app.config)
        check_keys(app.config)
        state = OutsourceState(app, host, config)
        app.extensions["outsource"] = state

        register_blueprints(app, config["OUTSOURCE_URL_PREFIX"])
        init_metrics(app, config)
        host.watch(lambda changes: _on_host_changes(state, changes))
        if config["OUTSOURCE_MAIL_ENABLED"]:
            queue_mail_before_commit(state)
        app.cli.add_command(outsource_cli)
        with app.app_context():
            bind = host.session.get_bind()
            prepare_sqlite(bind.engine, bool(config["OUTSOURCE_SQLITE_SERIALISE_WRITERS"]))
            if config["OUTSOURCE_CREATE_TABLES"]:
                upgrade(bind)
        if config["OUTSOURCE_SCHEDULER"]:
            state.scheduler = start_scheduler(app)


def _on_host_changes(state: OutsourceState, changes: HostChanges) -> None:
    if current_app.extensions.get("outsource") is state:
        on_host_changes(state, changes)
