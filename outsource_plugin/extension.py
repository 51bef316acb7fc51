"""The Flask extension object: ``Outsourcing(app, host=...)`` or ``init_app``."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from outsource_plugin.adapters.base import PartnerAdapter
from outsource_plugin.adapters.registry import adapter_class
from outsource_plugin.config import apply_defaults
from outsource_plugin.host import HostAdapter, HostChanges
from outsource_plugin.migrate import upgrade
from outsource_plugin.models import Partner
from outsource_plugin.secretbox import check_keys


class OutsourceState:
    """Everything the plugin keeps for one app, in ``app.extensions["outsource"]``."""

    def __init__(self, app: Flask, host: HostAdapter, config: dict[str, Any]) -> None:
        self.app = app
        self.host = host
        self.config = config
        self._adapters: dict[int, tuple[str, PartnerAdapter]] = {}
        self.scheduler: Any = None

    @property
    def session(self) -> Session:
        return self.host.session

    def reset_adapters(self) -> None:
        """Forget cached adapter instances (and any state an in-memory one holds)."""
        self._adapters.clear()

    def adapter_for(self, partner: Partner) -> PartnerAdapter:
        """One adapter instance per partner, rebuilt when its settings change."""
        fingerprint = repr((partner.adapter, sorted(partner.config.items())))
        cached = self._adapters.get(partner.id)
        if cached is None or cached[0] != fingerprint:
            cls = adapter_class(partner.adapter)
            cached = (
                fingerprint,
                cls(partner.id, partner.config, timeout=float(self.config["OUTSOURCE_HTTP_TIMEOUT"])),
            )
            self._adapters[partner.id] = cached
        return cached[1]


class Outsourcing:
    """Mount outsourcing into a host help desk.

    ``host`` is the host adapter: the only way the plugin reaches the host's
    tickets and users (see ``outsource_plugin.host``).
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
        config = apply_defaults(app.config)
        check_keys(app.config)
        state = OutsourceState(app, host, config)
        app.extensions["outsource"] = state

        from outsource_plugin.blueprints import register_blueprints
        from outsource_plugin.cli import outsource_cli
        from outsource_plugin.metrics import init_metrics

        register_blueprints(app, config["OUTSOURCE_URL_PREFIX"])
        init_metrics(app, config)
        host.watch(lambda changes: _on_host_changes(state, changes))
        app.cli.add_command(outsource_cli)
        if config["OUTSOURCE_CREATE_TABLES"]:
            with app.app_context():
                upgrade(host.session.get_bind())
        if config["OUTSOURCE_SCHEDULER"]:
            from outsource_plugin.jobs.scheduler import start_scheduler

            state.scheduler = start_scheduler(app)


def _on_host_changes(state: OutsourceState, changes: HostChanges) -> None:
    from outsource_plugin.sync import on_host_changes

    if current_app.extensions.get("outsource") is state:
        on_host_changes(state, changes)


def current_outsource() -> OutsourceState:
    """The plugin's state for the current app; fails clearly before ``init_app``."""
    state = current_app.extensions.get("outsource")
    if state is None:
        raise RuntimeError("Outsourcing has not been initialised on this app: call Outsourcing(app, host=...)")
    return state
