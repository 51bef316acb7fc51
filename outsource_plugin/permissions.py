"""The four outsourcing permission levels a host gives each user."""

from __future__ import annotations

from enum import IntEnum

from outsource_plugin.errors import NotAuthenticated, PermissionDenied


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
