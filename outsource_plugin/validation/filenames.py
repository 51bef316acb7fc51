"""Safe names for attachments that arrive from users and partners.

An attachment's name is only a label (the bytes live in the database), but
hosts and adapters may one day write it to disk or put it in a header, so a
name never carries a directory, a drive, a control character or a dot-dot.
"""

from __future__ import annotations

import re

from outsource_plugin.validation.names import clean_name

#: what an attachment is called when nothing of its name is left
FALLBACK = "attachment"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_filename(name: str, max_length: int = 255) -> str:
    """The last path segment of ``name`` (``/`` and ``\\`` both count), in NFC, without control
    characters (bidi and zero-width ones included: they disguise an extension), leading dots
    or surrounding blanks; ``attachment`` if nothing is left."""
    name = clean_name(name)
    base = re.split(r"[/\\]", _CONTROL.sub("", name))[-1]
    base = base.strip().lstrip(".").strip()
    if ":" in base[:3]:
        base = base.split(":", 1)[1].strip()
    return base[:max_length] or FALLBACK
