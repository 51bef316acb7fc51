"""What the ``flask outsource`` commands share: finding partners, progress bars, errors."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from outsource_plugin.db.models import Partner
from outsource_plugin.errors import OutsourceError

T = TypeVar("T")


def find_partner(session: Session, name_or_id: str) -> Partner:
    """A partner by id or by exact name; a UsageError names what was not found."""
    text = name_or_id.strip()
    partner = session.get(Partner, int(text)) if text.isdigit() else None
    if partner is None:
        partner = session.scalars(select(Partner).where(Partner.name == text)).first()
    if partner is None:
        raise click.UsageError(f"no partner with id or name '{name_or_id}'")
    return partner


def progress(items: Sequence[T], label: str) -> Iterable[T]:
    """A progress bar on stderr when it is a terminal (long runs); the plain items otherwise,
    so that piped and ``--json`` output stay clean."""
    if not sys.stderr.isatty():
        return items
    return _bar(items, label)


def _bar(items: Sequence[T], label: str) -> Iterator[T]:
    with click.progressbar(items, label=label, file=sys.stderr) as bar:
        yield from bar


@contextmanager
def clear_errors(session: Session) -> Iterator[None]:
    """Turn the plugin's errors into a ClickException (exit 1) that says what was wrong,
    field by field, and roll back whatever the command had started."""
    try:
        yield
    except OutsourceError as err:
        session.rollback()
        details = "".join(f"\n  {key}: {value}" for key, value in sorted(err.details.items()))
        raise click.ClickException(f"{err.message}{details}") from err
