"""Adapters are found by entry point (group ``outsource_plugin.adapters``).

They are imported only when first asked for, and each is checked to be a
``PartnerAdapter`` subclass so that a broken third-party package fails with a
clear message instead of deep inside a job.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from outsource_plugin.adapters.base import PartnerAdapter
from outsource_plugin.errors import ValidationFailed

GROUP = "outsource_plugin.adapters"


def adapter_names() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=GROUP)})


@cache
def adapter_class(name: str) -> type[PartnerAdapter]:
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        raise ValidationFailed(
            f"unknown adapter '{name}'", details={"adapter": [f"choose one of: {', '.join(adapter_names())}"]}
        )
    cls = found[0].load()
    if not (isinstance(cls, type) and issubclass(cls, PartnerAdapter)):
        raise TypeError(f"entry point {name!r} in {GROUP} is not a PartnerAdapter subclass")
    return cls
