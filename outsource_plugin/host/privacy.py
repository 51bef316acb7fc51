"""Where a partner's entries go on a host that cannot keep an entry internal.

The plugin marks what a partner sends to the lead as internal (staff only). A host whose
note or attachment model has no internal flag would drop that mark and show the partner's
notes, its time and even its internal notes to the ticket's requester, so such a host must
choose: hold them on the plugin's side (``HELD``), or write them as they are (``PUBLIC``,
for a help desk with no customer portal). Mounting without a choice is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

from outsource_plugin.errors import ConfigurationError
from outsource_plugin.host.entries import PRIVATE_KINDS, EntryKind


class PartnerEntries(str, Enum):
    #: kept in the plugin's tables, shown only in its panel on the ticket page and its entries JSON
    HELD = "held"
    #: written to the host's rows without an internal mark: for hosts whose tickets no customer sees
    PUBLIC = "public"


def partner_entries_policy(value: str | None) -> PartnerEntries | None:
    """The policy a host named, checked: ``None``, ``"held"`` or ``"public"``."""
    if value is None:
        return None
    try:
        return PartnerEntries(value)
    except ValueError:
        raise ConfigurationError(
            f'partner_entries={value!r} is not a policy: use None, "held" or "public"',
            details={"partner_entries": value},
        ) from None


def require_policy(models: Iterable[tuple[EntryKind, str, frozenset[str]]], policy: PartnerEntries | None) -> None:
    """Refuse a host that would show a partner's internal entries to its customers.

    ``models`` gives, per entry kind the host has, its model's name and the neutral fields it keeps.
    """
    if policy is not None:
        return
    for kind, model, fields in models:
        if kind in PRIVATE_KINDS and "internal" not in fields:
            raise ConfigurationError(
                f"the {kind.value} model {model} has no internal field, so the partner's {kind.value}s (its "
                "internal ones and its time included) would reach the ticket's requester. Map an internal "
                "field, or say where they go: "
                'partner_entries="held" keeps them in the plugin\'s tables, shown only in its panel on the '
                'ticket page; partner_entries="public" writes them to your rows as they are, for a help desk '
                "whose tickets no customer sees.",
                details={"kind": kind.value, "model": model},
            )


def holds(policy: PartnerEntries | None, fields: frozenset[str], values: Mapping[str, Any]) -> bool:
    """Whether a partner's entry with ``values`` stays off a host whose model keeps ``fields``: it
    must be internal here, the model cannot say so, and the host chose to hold such entries."""
    return policy is PartnerEntries.HELD and bool(values.get("internal")) and "internal" not in fields
