"""JSON API v1 for partner management, the dashboard and dead letters."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import Schema
from sqlalchemy import select

from outsource_plugin.adapters.registry import adapter_class
from outsource_plugin.blueprints.api_common import ID, api, caller, json_body, state
from outsource_plugin.dashboard import folder_counts, folder_page
from outsource_plugin.errors import Conflict, NotFound, ValidationFailed
from outsource_plugin.models import MessageState, OutboxMessage, Partner
from outsource_plugin.outbox import dead_letters, retry
from outsource_plugin.permissions import Permission
from outsource_plugin.present import engagement_json, partner_json
from outsource_plugin.schemas import PageSchema, PartnerSchema, load, terms_json
from outsource_plugin.workflow import Folder, Side, folders_for


def _partner_or_404(partner_id: int) -> Partner:
    partner = state().session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(f"partner {partner_id} does not exist")
    return partner


def _json(partner: Partner, level: Permission) -> dict[str, Any]:
    return partner_json(partner, adapter_class(partner.adapter).secret_fields, level)


def _adapter_config(adapter: str, config: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """Validate settings with the adapter's own schema; unset secrets keep their stored value."""
    cls = adapter_class(adapter)
    kept = {k: v for k, v in previous.items() if k in cls.secret_fields and k not in config}
    schema: Schema = cls.config_schema()
    try:
        loaded = load(schema, {**config, **kept})
    except ValidationFailed as err:
        raise ValidationFailed(err.message, details={"config": err.details}) from err
    dumped: dict[str, Any] = schema.dump(loaded)
    return dumped


def _unique_name(name: str, partner_id: int | None = None) -> None:
    name = name.strip()  # names are stored stripped: compare what will be stored
    clash = state().session.scalars(select(Partner).where(Partner.name == name)).first()
    if clash is not None and clash.id != partner_id:
        raise Conflict(f"a partner named '{name}' already exists", details={"name": ["already taken"]})


def _unique_link(adapter: str, config: dict[str, Any], partner_id: int | None = None) -> None:
    link = adapter_class(adapter).link_id(config)
    clash = state().session.scalars(select(Partner).where(Partner.link_id == link)).first() if link else None
    if clash is not None and clash.id != partner_id:
        raise Conflict(f"link id '{link}' is already used by {clash.name}", details={"config": ["link_id taken"]})


@api.get("/partners")
def partners_list() -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    partners = state().session.scalars(select(Partner).order_by(Partner.name))
    return jsonify({"partners": [_json(p, user.permission) for p in partners]})


@api.post("/partners")
def partners_create() -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    data = load(PartnerSchema(), json_body())
    _unique_name(data["name"])
    config = _adapter_config(data["adapter"], data["config"], {})
    _unique_link(data["adapter"], config)
    partner = Partner(
        name=data["name"].strip(),
        adapter=data["adapter"],
        link_id=adapter_class(data["adapter"]).link_id(config),
        config=config,
        default_terms=terms_json(data["default_terms"]),
        customer_ref=data["customer_ref"],
        active=data["active"],
    )
    state().session.add(partner)
    state().session.commit()
    return jsonify(_json(partner, user.permission)), 201


@api.get(f"/partners/<{ID}:partner_id>")
def partners_read(partner_id: int) -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    return jsonify(_json(_partner_or_404(partner_id), user.permission))


@api.patch(f"/partners/<{ID}:partner_id>")
def partners_edit(partner_id: int) -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    partner = _partner_or_404(partner_id)
    data = load(PartnerSchema(partial=True), json_body())
    if "name" in data:
        _unique_name(data["name"], partner.id)
        partner.name = data["name"].strip()
    adapter = data.get("adapter", partner.adapter)
    if "config" in data or adapter != partner.adapter:
        partner.config = _adapter_config(adapter, data.get("config", {}), partner.config)
        _unique_link(adapter, partner.config, partner.id)
        partner.adapter = adapter
        partner.link_id = adapter_class(adapter).link_id(partner.config)
    if "default_terms" in data:
        partner.default_terms = terms_json(data["default_terms"])
    for key in ("customer_ref", "active"):
        if key in data:
            setattr(partner, key, data[key])
    state().session.commit()
    return jsonify(_json(partner, user.permission))


@api.post(f"/partners/<{ID}:partner_id>/disable")
def partners_disable(partner_id: int) -> ResponseReturnValue:
    """Disabled partners keep their history but cannot be chosen or polled."""
    user = caller(Permission.PARTNER_MANAGEMENT)
    partner = _partner_or_404(partner_id)
    partner.active = False
    state().session.commit()
    return jsonify(_json(partner, user.permission))


@api.get("/dashboard")
def dashboard_counts() -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    return jsonify({"folders": folder_counts(state().session)})


@api.get("/dashboard/<role>/<folder>")
def dashboard_folder(role: str, folder: str) -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    try:
        side = Side(role)
        chosen = Folder(folder)
    except ValueError as err:
        raise NotFound(f"no folder '{folder}' for role '{role}'") from err
    if side is Side.SYSTEM or chosen not in folders_for(side):
        raise NotFound(f"no folder '{folder}' for role '{role}'")
    page = load(PageSchema(), request.args.to_dict())
    rows, cursor = folder_page(
        state().session, side, chosen, sort=page["sort"], limit=page["limit"], after=page["after"]
    )
    return jsonify({"items": [engagement_json(e, user.permission) for e in rows], "next": cursor})


@api.get("/deadletters")
def deadletters_list() -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    return jsonify(
        {
            "deadletters": [
                {
                    "id": m.id,
                    "message_id": m.message_id,
                    "partner_id": m.partner_id,
                    "engagement_uid": m.engagement_uid,
                    "kind": m.kind.value,
                    "attempts": m.attempts,
                    "last_error": m.last_error,
                    "created_at": m.created_at.isoformat(),
                }
                for m in dead_letters(state().session)
            ]
        }
    )


@api.post(f"/deadletters/<{ID}:message_id>/retry")
def deadletters_retry(message_id: int) -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    message = state().session.get(OutboxMessage, message_id)
    if message is None or message.state is not MessageState.DEAD:
        raise NotFound(f"no dead letter {message_id}")
    retry(state().session, message)
    state().session.commit()
    return jsonify({"id": message.id, "state": message.state.value})
