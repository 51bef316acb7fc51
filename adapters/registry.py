"""Adapters are found by entry point (group ``outsource_plugin.adapters``).

They are imported only when first asked for, and each is checked to be a
``PartnerAdapter`` subclass so that a broken third-party package fails with a
clear message instead of deep inside a job.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from marshmallow import missing
from marshmallow.fields import Field
from marshmallow.validate import OneOf

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


def describe(cls: type[PartnerAdapter]) -> dict[str, Any]:
    """What partner registration offers for one adapter: its name, label, capabilities and settings."""
    schema = cls.config_schema()
    settings = []
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
        default = field.load_default
        settings.append(
            {
                "name": field.data_key or name,
                "type": type(field).__name__.lower(),
                "required": bool(field.required),
                "secret": name in cls.secret_fields,
                "default": None if default is missing or callable(default) else default,
                "choices": [str(c) for v in _validators(field) if isinstance(v, OneOf) for c in v.choices] or None,
            }
        )
    return {
        "name": cls.name,
        "label": cls.label or cls.name,
        "capabilities": sorted(c.value for c in cls.capabilities),
        "config": settings,
    }


def _validators(field: Field) -> list[Any]:
    found = list(field.validators)
    value_field = getattr(field, "value_field", None)
    return found + (list(value_field.validators) if value_field is not None else [])


def describe_all() -> list[dict[str, Any]]:
    """Every installed adapter, described; one whose package is broken is listed with its error."""
    found = []
    for name in adapter_names():
        try:
            found.append({**describe(adapter_class(name)), "name": name})
        except (ImportError, TypeError, AttributeError) as err:
            found.append({"name": name, "label": name, "capabilities": [], "config": [], "error": str(err)})
    return found
