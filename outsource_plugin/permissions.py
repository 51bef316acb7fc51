"""The four outsourcing permission levels a host gives each user."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

from outsource_plugin.errors import NotAuthenticated, PermissionDenied
from outsource_plugin.validation.schemas import FINANCIAL_TERMS


class Permission(IntEnum):
    """Ordered, so that a level includes every level below it."""

    NONE = 0
    OUTSOURCE = 1
    PARTNER_MANAGEMENT = 2
    ALL = 3

    @property
    def label(self) -> str:
        return {
            0: "None",
            1: "Allow Outsourcing",
            2: "Allow Partner Management",
            3: "Allow All",
        }[int(self)]


def require(level: Permission | None, needed: Permission) -> None:
    """Refuse with 401 when nobody is signed in, 403 when the level is too low."""
    if level is None:
        raise NotAuthenticated("sign in first")
    if level < needed:
        raise PermissionDenied(f"this needs the '{needed.label}' permission; you have '{level.label}'")


def refuse_financial(terms: Mapping[str, Any], level: Permission, field: str) -> None:
    """Refuse (403, naming each field) a write that sets or clears financial terms below Allow All.

    Those users never see the figures, so they must not change them either,
    whether through the pages (which hide the fields) or the API.
    """
    if level >= Permission.ALL:
        return
    named = sorted(FINANCIAL_TERMS & set(terms))
    if named:
        raise PermissionDenied(
            f"{', '.join(f'{field}.{k}' for k in named)}: financial terms need the "
            f"'{Permission.ALL.label}' permission; you have '{level.label}'",
            details={f"{field}.{k}": ["financial terms need the 'Allow All' permission"] for k in named},
        )


def keep_hidden_financial(stored: Mapping[str, Any] | None, level: Permission) -> dict[str, Any]:
    """The financial terms of ``stored`` that ``level`` cannot see: an edit by that user keeps them."""
    if level >= Permission.ALL:
        return {}
    return {k: v for k, v in (stored or {}).items() if k in FINANCIAL_TERMS}
