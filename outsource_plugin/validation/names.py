"""Names as people read them: one Unicode form, no invisible controls, and a look-alike key.

A name is only a label, but a label can lie: a right-to-left override shows
``invoice\\u202etxt.exe`` as "invoiceexe.txt", and a zero-width space makes a
second "Contoso" that nobody can tell from the first. Names are stored NFC
without those controls, and names that compare equal by ``lookalike_key``
are the same name to a reader.
"""

from __future__ import annotations

import re
import unicodedata

#: bidirectional controls (marks, embeddings, overrides, isolates) and zero-width characters
INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def clean_name(text: str) -> str:
    """``text`` in NFC, without bidi or zero-width controls: what a name is stored as."""
    return INVISIBLE.sub("", unicodedata.normalize("NFC", text))


def lookalike_key(text: str) -> str:
    """What a reader sees of ``text``: compatibility forms folded (full-width letters), case
    folded, format characters (soft hyphens and the like) dropped and blanks collapsed."""
    folded = unicodedata.normalize("NFKC", clean_name(text)).casefold()
    visible = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return " ".join(visible.split())
