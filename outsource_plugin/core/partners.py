"""Registering, editing and disabling partners: what the JSON API and the pages share.

Settings are validated with the adapter's own marshmallow schema; secret
settings are write-only, so an edit that leaves one out keeps the stored value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from marshmallow import Schema
from sqlalchemy import nulls_last, select

from outsource_plugin.adapters.registry import adapter_class
from outsource_plugin.db.models import Partner, UnmatchedMail
from outsource_plugin.errors import AdapterError, Conflict, NotFound, TransientAdapterError, ValidationFailed
from outsource_plugin.permissions import Permission, keep_hidden_financial, refuse_financial
from outsource_plugin.validation.names import clean_name, lookalike_key
from outsource_plugin.validation.schemas import PartnerSchema, load, terms_json

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from outsource_plugin.state import OutsourceState


def get_partner(session: Session, partner_id: int) -> Partner:
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(f"partner {partner_id} does not exist")
    return partner


def choosable_partners(session: Session, search: str = "") -> list[Partner]:
    """Active partners for the Outsource Ticket page: recently used first, then by name."""
    query = select(Partner).where(Partner.active.is_(True))
    if search.strip():
        query = query.where(Partner.name.ilike(f"%{search.strip()}%"))
    return list(session.scalars(query.order_by(nulls_last(Partner.last_used_at.desc()), Partner.name)))


def adapter_config(adapter: str, config: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """Validate settings with the adapter's own schema; unset secrets keep their stored value, and
    what the plugin keeps for itself (``state_fields``) stays as it is."""
    cls = adapter_class(adapter)
    own = {k: v for k, v in previous.items() if k in cls.state_fields}
    given = {k: v for k, v in config.items() if k not in cls.state_fields}
    kept = {k: v for k, v in previous.items() if k in cls.secret_fields and k not in given and k not in own}
    schema: Schema = cls.config_schema()
    try:
        loaded = load(schema, {**given, **kept})
    except ValidationFailed as err:
        raise ValidationFailed(err.message, details={"config": err.details}) from err
    dumped: dict[str, Any] = {**schema.dump(loaded), **own}
    return dumped


def unique_name(session: Session, name: str, partner_id: int | None = None) -> str:
    """The name as stored (NFC, no invisible controls, stripped), refused when it is, or only
    looks like, another partner's: a reader could not tell the two apart."""
    name = clean_name(name).strip()
    key = lookalike_key(name)
    for other_id, other in session.execute(select(Partner.id, Partner.name)):
        if other_id == partner_id or lookalike_key(other) != key:
            continue
        if other == name:
            raise Conflict(f"a partner named '{name}' already exists", details={"name": ["already taken"]})
        raise Conflict(
            f"'{name}' looks like the name of the existing partner '{other}'",
            details={"name": ["looks like an existing partner's name"]},
        )
    return name


def _unique_link(session: Session, adapter: str, config: dict[str, Any], partner_id: int | None = None) -> None:
    link = adapter_class(adapter).link_id(config)
    clash = session.scalars(select(Partner).where(Partner.link_id == link)).first() if link else None
    if clash is not None and clash.id != partner_id:
        raise Conflict(f"link id '{link}' is already used by {clash.name}", details={"config": ["link_id taken"]})


def create_partner(state: OutsourceState, body: Any, level: Permission = Permission.ALL) -> Partner:
    """Register a partner from a ``PartnerSchema`` body; the caller commits.

    ``level`` is the caller's: below Allow All, default terms may not carry financial figures.
    """
    session = state.session
    data = load(PartnerSchema(), body)
    refuse_financial(data["default_terms"], level, "default_terms")
    name = unique_name(session, data["name"])
    config = adapter_config(data["adapter"], data["config"], {})
    _unique_link(session, data["adapter"], config)
    partner = Partner(
        name=name,
        adapter=data["adapter"],
        link_id=adapter_class(data["adapter"]).link_id(config),
        config=config,
        default_terms=terms_json(data["default_terms"]),
        customer_ref=data["customer_ref"],
        notify_email=data["notify_email"],
        active=data["active"],
    )
    session.add(partner)
    return partner


def update_partner(state: OutsourceState, partner: Partner, body: Any, level: Permission = Permission.ALL) -> Partner:
    """Change what a partial ``PartnerSchema`` body names; the caller commits.

    Below Allow All (``level`` is the caller's) new default terms replace only the
    terms that user sees: the financial defaults they cannot see are kept.
    """
    session = state.session
    data = load(PartnerSchema(partial=True), body)
    refuse_financial(data.get("default_terms", {}), level, "default_terms")
    if "name" in data:
        partner.name = unique_name(session, data["name"], partner.id)
    adapter = data.get("adapter", partner.adapter)
    if "config" in data or adapter != partner.adapter:
        partner.config = adapter_config(adapter, data.get("config", {}), partner.config)
        _unique_link(session, adapter, partner.config, partner.id)
        partner.adapter = adapter
        partner.link_id = adapter_class(adapter).link_id(partner.config)
    if "default_terms" in data:
        hidden = keep_hidden_financial(partner.default_terms, level)
        partner.default_terms = {**hidden, **terms_json(data["default_terms"])}
    for key in ("customer_ref", "notify_email", "active"):
        if key in data:
            setattr(partner, key, data[key])
    return partner


#: what every adapter's connection test waits for
EXPECTED = "expected HTTP 200 with a JSON answer"


class ConnectionTest(NamedTuple):
    passed: bool
    message: str


def check_connection(state: OutsourceState, partner: Partner) -> ConnectionTest:
    """Ask the partner's system for a round trip, and say how it went in a fixed message.

    A failure names the HTTP status and what was expected, never the answer's
    body: the URL is typed by a partner manager, so the body may be an internal
    service's. An answer that is not JSON (a web page) is a failed test too.
    """
    try:
        answer = state.adapter_for(partner).test_connection()
    except AdapterError as err:
        status = err.http_status
        if status is not None and status < 300:
            return ConnectionTest(
                False, f"{partner.name} answered HTTP {status}, but not with JSON it reads; {EXPECTED}"
            )
        if status is not None:
            hint = ": check the link id and the shared secret" if status in (401, 403) else ""
            return ConnectionTest(False, f"{partner.name} answered HTTP {status}; {EXPECTED}{hint}")
        if isinstance(err, TransientAdapterError):
            cause = type(err.__cause__).__name__ if err.__cause__ is not None else "no answer"
            return ConnectionTest(False, f"{partner.name} could not be reached ({cause}); {EXPECTED}")
        return ConnectionTest(False, f"{partner.name} gave an answer this adapter cannot read; {EXPECTED}")
    except ValueError:  # an adapter that parsed a non-JSON answer itself
        return ConnectionTest(False, f"{partner.name} answered with something other than JSON; {EXPECTED}")
    return ConnectionTest(True, answer)


def kept_aside_mail(session: Session, partner_id: int, limit: int = 50) -> list[UnmatchedMail]:
    """An e-mail partner's replies that were not applied, newest first, for its partner manager."""
    query = (
        select(UnmatchedMail)
        .where(UnmatchedMail.partner_id == partner_id)
        .order_by(UnmatchedMail.received_at.desc(), UnmatchedMail.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
