"""Form errors in words, beside the field they are about.

The schemas' messages ("Not a valid number.") are written for API clients and
name the field by its key; a form says, next to the field a person filled in,
what it wants. The JSON API keeps the schemas' own details.
"""

from __future__ import annotations

from collections.abc import Sequence

from outsource_plugin.blueprints.pages_common import TermField
from outsource_plugin.errors import OutsourceError

#: what each kind of term wants, said with the field's label
_WANTS = {
    "hours": "{label} must be a number of hours, like 4 or 2.5",
    "money": "{label} must be an amount of money, like 120 or 99.50",
    "date": "{label} must be a date, like 2026-12-31",
    "int": "{label} must be a whole number of hours, like 24",
    "rate_type": "{label} must be Hourly or Flat",
    "text": "{label} must be plain text of at most 10,000 characters",
}

REASON_NEEDED = "Give a reason: the partner reads it"
REASON_TOO_LONG = "The reason can be at most 5,000 characters"
CUSTOMER_NEEDED = "Choose which of your customers this partner is"


def term_errors(error: OutsourceError | None, fields: Sequence[TermField]) -> dict[str, str]:
    """Each bad term's message by field name (the schema names them under ``terms``)."""
    named = error.details.get("terms") if error is not None else None
    if not isinstance(named, dict):
        return {}
    return {f.name: _WANTS[f.kind].format(label=f.label) for f in fields if f.name in named}


def action_errors(error: OutsourceError, reason: str | None) -> dict[str, str]:
    """The action form's fields the error is about, with what each needs; empty when it is
    about something the form cannot fix (the page then explains the error instead)."""
    words = {}
    if "reason" in error.details:
        words["reason"] = REASON_TOO_LONG if reason else REASON_NEEDED
    if "customer_ref" in error.details:
        words["customer_ref"] = CUSTOMER_NEEDED
    return words
