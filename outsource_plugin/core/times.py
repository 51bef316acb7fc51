"""Times as people read them, in what the plugin shows to a partner's people (e-mails, public pages).

An ISO stamp (``2026-12-04T18:00:00+00:00``) is for programs. A deadline a person
must meet reads ``Fri 4 Dec 2026, 18:00 UTC``: the weekday catches a misread
date, and the zone is said, since the reader may live in another one. The names
are English whatever the process locale, like the rest of the text around them.
"""

from __future__ import annotations

from datetime import datetime, timezone

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def human_time(moment: datetime) -> str:
    """``moment`` in UTC as ``Fri 4 Dec 2026, 18:00 UTC`` (a naive time is taken as UTC)."""
    utc = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return f"{WEEKDAYS[utc.weekday()]} {utc.day} {MONTHS[utc.month - 1]} {utc.year}, {utc:%H:%M} UTC"
