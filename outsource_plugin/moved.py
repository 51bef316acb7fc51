"""Import paths from before the layer packages, kept working for one release (0.2 drops them).

``import outsource_plugin.engagements`` still works: it gives the very module that now lives at
``outsource_plugin.core.engagements`` (the same object, so state and monkeypatches are shared)
and warns with a DeprecationWarning that names the new path. Hosts and the guide used these
paths; the package itself and its tests use the new ones only.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from importlib.util import spec_from_loader
from types import ModuleType

#: old dotted path -> where the module lives now
MOVED: dict[str, str] = {
    f"outsource_plugin.{old}": f"outsource_plugin.{new}"
    for old, new in {
        "models": "db.models",
        "migrate": "db.migrate",
        "outbox": "db.outbox",
        "secretbox": "db.secretbox",
        "host_sqlalchemy": "host.sqlalchemy_host",
        "entries": "host.entries",
        "signing": "federation.signing",
        "messages": "federation.messages",
        "engagements": "core.engagements",
        "partners": "core.partners",
        "costs": "core.costs",
        "questions": "core.questions",
        "dashboard": "core.dashboard",
        "present": "core.present",
        "schemas": "validation.schemas",
        "names": "validation.names",
        "filenames": "validation.filenames",
        "media_types": "validation.media_types",
        "inbound": "sync.inbound",
        "locks": "sync.locks",
        "backfill": "sync.backfill",
        "reconcile": "sync.reconcile",
        "entry_facts": "sync.entry_facts",
        "refusals": "sync.refusals",
        "health": "ops.health",
        "metrics": "ops.metrics",
        "logs": "ops.logs",
    }.items()
}


class _Alias(Loader):
    """Loads an old path as the module at its new one."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.spec: ModuleSpec | None = None

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} has moved to {self.target}", DeprecationWarning, stacklevel=2)
        module = importlib.import_module(self.target)
        self.spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self.spec  # the import system stamped the old path's spec on it


class MovedFinder(MetaPathFinder):
    """Finds the old paths of ``MOVED`` only; every other import goes on as before."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        new = MOVED.get(fullname)
        return spec_from_loader(fullname, _Alias(new)) if new else None


def install() -> None:
    """Called once by the package on import."""
    if not any(isinstance(finder, MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedFinder())
