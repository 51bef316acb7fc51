"""Marshmallow schemas for every input the plugin accepts, and its outputs.

Input schemas raise on unknown fields, so a typo is an error rather than a
silently ignored setting.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any, TypeVar

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from outsource_plugin.errors import ValidationFailed
from outsource_plugin.validation.names import clean_name
from outsource_plugin.workflow import USER_ACTIONS

#: terms that count as financial figures: shown only with Allow All
FINANCIAL_TERMS = frozenset({"outsource_rate", "flat_rate", "bill_rate", "authorised_charges", "total_authorised"})


def _unsigned(value: Decimal) -> None:
    """A tiny negative amount rounds to -0.00, which the range takes: refused as the negative it was."""
    if value.is_signed():
        raise ValidationError("Must be greater than or equal to 0.")


def _money() -> fields.Decimal:
    return fields.Decimal(
        places=2, as_string=True, allow_none=True, validate=[validate.Range(min=0, max=10**9), _unsigned]
    )


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class TermsSchema(StrictSchema):
    """The terms of an engagement or a partner's defaults.

    ``null`` (or a blank string, what an emptied form field sends) clears a
    term: an edit is merged into the stored terms, so leaving a term out keeps it.
    """

    rate_type = fields.String(allow_none=True, validate=validate.OneOf(["hourly", "flat"]))
    outsource_rate = _money()
    flat_rate = _money()
    bill_rate = _money()
    authorised_hours = fields.Decimal(
        places=2, as_string=True, allow_none=True, validate=[validate.Range(min=0, max=100000), _unsigned]
    )
    authorised_charges = _money()
    total_authorised = _money()
    complete_by = fields.Date(allow_none=True)
    acceptance_hours = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=24 * 365))
    instructions = fields.String(allow_none=True, validate=validate.Length(max=10000))

    @pre_load
    def _blank_clears(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {k: None if isinstance(v, str) and not v.strip() else v for k, v in data.items()}


#: row ids fit a 32-bit integer column on every database
_ROW_ID = validate.Range(min=1, max=2**31 - 1)


class ConfigureSchema(StrictSchema):
    partner_id = fields.Integer(strict=True, required=True, validate=_ROW_ID)
    terms = fields.Nested(TermsSchema, load_default=dict)


class EditSchema(StrictSchema):
    partner_id = fields.Integer(strict=True, validate=_ROW_ID)
    terms = fields.Nested(TermsSchema, load_default=dict)


class ActionSchema(StrictSchema):
    action = fields.String(required=True, validate=validate.OneOf([a.value for a in USER_ACTIONS]))
    reason = fields.String(validate=validate.Length(max=5000), load_default=None, allow_none=True)
    #: on the first acceptance from a new lead partner: which of our customers it is
    customer_ref = fields.String(validate=validate.Length(min=1, max=64), load_default=None, allow_none=True)


class QuestionSchema(StrictSchema):
    """A question to the lead partner; ``ask_question`` checks that it is there and not too long."""

    text = fields.String(load_default="")
    internal = fields.Boolean(load_default=False)


class InvitationSchema(StrictSchema):
    """An invitation: the partner's name here and its default terms; a partner has them too."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    default_terms = fields.Nested(TermsSchema, load_default=dict)

    @validates_schema
    def _name_not_blank(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "name" in data and not clean_name(data["name"]).strip():
            raise ValidationError("must not be blank", field_name="name")


class PartnerSchema(InvitationSchema):
    adapter = fields.String(required=True, validate=validate.Length(min=1, max=64))
    config = fields.Dict(keys=fields.String(), load_default=dict)
    customer_ref = fields.String(validate=validate.Length(max=64), allow_none=True, load_default=None)
    notify_email = fields.Email(validate=validate.Length(max=320), allow_none=True, load_default=None)
    active = fields.Boolean(load_default=True)


class LeaveSchema(StrictSchema):
    """Why a partnership ends: typed by the partner manager who ends it, shown on both sides."""

    reason = fields.String(load_default="", validate=validate.Length(max=1000))


class PageSchema(StrictSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    after = fields.String(load_default=None, validate=validate.Length(max=200))
    sort = fields.String(
        load_default="-updated",
        validate=validate.OneOf(["updated", "-updated", "created", "-created"]),
    )


class ChoosePartnerSchema(Schema):
    """The partner-choice page's query: a partner id within the column, a search, "change"."""

    class Meta:
        unknown = EXCLUDE

    partner_id = fields.Integer(load_default=None, validate=_ROW_ID)
    q = fields.String(load_default="", validate=validate.Length(max=200))
    change = fields.String(load_default=None)


#: the longest a partner may ask us to hold its poll of our feed, in seconds
MAX_FEED_WAIT = 25.0


class FeedSchema(StrictSchema):
    """A partner's cursor into our change feed: a sequence number fits the 32-bit column. ``wait``
    holds the request open until a change comes (a long poll), for at most ``MAX_FEED_WAIT`` seconds."""

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**31 - 1))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=500))
    wait = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=MAX_FEED_WAIT))


AnySchema = TypeVar("AnySchema", bound=Schema)


@functools.cache
def shared(schema_class: type[AnySchema]) -> AnySchema:
    """The one instance of ``schema_class`` that every load may use.

    Building a marshmallow schema deep-copies its declared fields, which costs
    more than loading a small message with it; a schema keeps nothing from one
    load to the next, so a partner's batch of 500 messages need not build 2,000.
    """
    return schema_class()


#: True while the parts of a body that ``load`` checked whole are loaded one by one
_WHOLE_BODY_CHECKED: ContextVar[bool] = ContextVar("outsource_whole_body_checked", default=False)


@contextmanager
def parts_of_checked_body() -> Iterator[None]:
    """Loads inside skip the check for NUL and lone surrogates: their data is a part of a body
    that a ``load`` has just checked whole (a partner's batch, whose 500 messages are then each
    loaded by their own schemas)."""
    token = _WHOLE_BODY_CHECKED.set(True)
    try:
        yield
    finally:
        _WHOLE_BODY_CHECKED.reset(token)


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """Validate ``data``, turning marshmallow's complaints into a 400 that names each field."""
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object", details={"_schema": ["expected an object"]})
    if not _WHOLE_BODY_CHECKED.get() and _may_hold_bad_text(data):
        _refuse_bad_text(data)
    try:
        result: dict[str, Any] = schema.load(data)
    except ValidationError as err:
        fields_named = ", ".join(sorted(str(k) for k in field_names(err.messages)))
        raise ValidationFailed(f"invalid input: {fields_named}", details=_jsonable(err.messages)) from err
    return result


def _nested(names: list[str], message: str) -> dict[str, Any]:
    """Dotted field names as marshmallow shapes its messages: ``{"terms": {"instructions": [...]}}``."""
    details: dict[str, Any] = {}
    for name in names:
        *parents, leaf = name.split(".")
        node = details
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[leaf] = [message]
    return details


def _may_hold_bad_text(data: Any) -> bool:
    """False only if no key or string in ``data`` holds a NUL or a lone surrogate.

    One pass of the C JSON encoder over the whole value: a walk in Python that
    names the fields (``_strings_where``) then runs only for the rare body that
    may have one. Every key and string is in the encoder's output, with a NUL as
    its escape and a lone surrogate as it is, which UTF-8 cannot encode; a
    ``\\u0000`` typed as text also matches, and the walk then finds nothing.
    """
    try:
        text = json.dumps(data, ensure_ascii=False, default=str)
        text.encode("utf-8")
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return True
    return "\\u0000" in text


def _has_nul(text: str) -> bool:
    """PostgreSQL stores no NUL in text; it would be a database error with the text in the log."""
    return "\x00" in text


def _lone_surrogate(text: str) -> bool:
    """JSON's ``\\ud800`` escapes make lone surrogates: no database or partner can store them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


#: what no column stores, with what the 400 says of a field that holds it
_BAD_TEXT: tuple[tuple[Callable[[str], bool], str, str], ...] = (
    (_lone_surrogate, "is not valid Unicode", "contains a lone surrogate (\\ud800-\\udfff): not valid Unicode"),
    (_has_nul, "contains a NUL character", "contains a NUL character (\\x00), which no text column stores"),
)


def _refuse_bad_text(data: Any) -> None:
    """A 400 naming each field whose text no column stores; each is named, never quoted: the text
    is the customer's, and stays out of answers and logs."""
    for bad, problem, message in _BAD_TEXT:
        named = _strings_where(data, bad)
        if named:
            raise ValidationFailed(f"invalid input: {', '.join(named)} {problem}", details=_nested(named, message))


def _strings_where(value: Any, bad: Callable[[str], bool], prefix: str = "") -> list[str]:
    """Dotted names of the keys and strings in ``value`` for which ``bad`` holds."""
    if isinstance(value, str):
        return [prefix or "_body"] if bad(value) else []
    if isinstance(value, dict):
        found: list[str] = []
        for key, item in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(key, str) and bad(key):
                # the key itself is the customer's text: name the object that holds it
                found.append(prefix or "_body")
                continue
            found.extend(_strings_where(item, bad, name))
        return found
    if isinstance(value, list):
        return [name for item in value for name in _strings_where(item, bad, prefix)]
    return []


def field_names(messages: Any, prefix: str = "") -> list[str]:
    """The dotted names of the fields that marshmallow's nested ``messages`` complain about."""
    if not isinstance(messages, dict):
        return [prefix or "_schema"]
    out: list[str] = []
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        out.extend(field_names(value, name) if isinstance(value, dict) else [name])
    return out


def _jsonable(messages: Any) -> Any:
    if isinstance(messages, dict):
        return {str(k): _jsonable(v) for k, v in messages.items()}
    if isinstance(messages, list | tuple):
        return [_jsonable(v) for v in messages]
    return str(messages)


def terms_json(terms: dict[str, Any]) -> dict[str, Any]:
    """Terms as stored: dumped through the schema so Decimals and dates are strings; a cleared
    (``None``) term is left out."""
    dumped: dict[str, Any] = TermsSchema().dump({k: v for k, v in terms.items() if v is not None})
    return dumped


def merge_terms(stored: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` (as loaded by ``TermsSchema``) applied to ``stored`` terms (as stored: strings).

    Only the changes go through the schema's dump, since a stored date is
    already a string; a ``None`` change clears its term.
    """
    kept = {k: v for k, v in (stored or {}).items() if k not in changes}
    return {**kept, **terms_json(changes)}


def visible_terms(terms: dict[str, Any] | None, *, financial: bool) -> dict[str, Any]:
    terms = terms or {}
    return {k: v for k, v in terms.items() if financial or k not in FINANCIAL_TERMS}
