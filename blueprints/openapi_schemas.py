"""Marshmallow schemas of what the JSON and partner APIs answer, for the OpenAPI description.

The views build their answers with the functions in ``outsource_plugin.core.present``
and ``outsource_plugin.federation.feed``; these schemas say the same shapes once
more so that clients (and the schema tests, which check every answer against
them) know what to expect. Inputs are described by the schemas the views
really load with (``outsource_plugin.validation.schemas``), so they cannot drift.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from outsource_plugin.db.models import MessageKind
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.workflow import Folder, Side, Status, SyncState

_STATUSES = [s.value for s in Status]
_SIDES = [s.value for s in Side]


def _when() -> fields.String:
    """A timestamp in ISO 8601, or null while the moment has not come."""
    return fields.String(allow_none=True, metadata={"format": "date-time"})


class ErrorOut(Schema):
    """Every refusal: a machine-readable ``error``, a sentence, and for bad input the bad fields."""

    error = fields.String(required=True, metadata={"example": "validation_failed"})
    message = fields.String(required=True)
    details = fields.Dict(metadata={"description": "For validation errors: each bad field and what is wrong."})
    expected = fields.Integer(metadata={"description": "Partner API, out of order: the sequence number expected."})


class PartnerRefOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class EngagementOut(Schema):
    """An engagement as the caller's level may see it: terms and reasons need Allow Outsourcing,
    financial figures Allow All (fields the caller may not see are left out)."""

    id = fields.Integer(required=True)
    uid = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(_SIDES))
    status = fields.String(required=True, validate=validate.OneOf(_STATUSES))
    status_label = fields.String(required=True)
    partner = fields.Nested(PartnerRefOut, required=True)
    ticket_id = fields.String(required=True, allow_none=True)
    ticket_number = fields.String(required=True, allow_none=True)
    remote_ticket_number = fields.String(required=True, allow_none=True)
    sync_state = fields.String(required=True, validate=validate.OneOf([s.value for s in SyncState]))
    allowed_actions = fields.List(fields.String(), required=True)
    terms = fields.Dict()
    offer = fields.Dict(allow_none=True)
    acceptance_deadline = _when()
    accepted_by = fields.String(allow_none=True)
    decline_reason = fields.String(allow_none=True)
    reject_reason = fields.String(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    suspended_at = _when()
    sync_ended_at = _when()
    last_sync_at = _when()
    last_sync_error = fields.String(allow_none=True)
    status_times = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True))
    created_at = _when()
    updated_at = _when()


class PartnerEntryOut(Schema):
    """One of the partner's entries: its author as "Name (Partner)", and whether it is held on the
    plugin's side (a host with ``partner_entries="held"``) or written to the host's rows (``local_id``)."""

    entry_key = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in EntryKind]))
    author = fields.String(required=True)
    at = _when()
    held = fields.Boolean(required=True)
    local_id = fields.String(required=True, allow_none=True)
    values = fields.Dict(required=True, metadata={"description": "The entry's fields in wire form, without bytes."})


class PartnerEntriesOut(Schema):
    entries = fields.List(fields.Nested(PartnerEntryOut), required=True)


class TicketOut(Schema):
    id = fields.String(required=True)
    number = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, allow_none=True)
    complete = fields.Boolean(required=True)


class TicketStateOut(Schema):
    ticket = fields.Nested(TicketOut, required=True)
    engagement = fields.Nested(EngagementOut, required=True, allow_none=True)
    allowed_actions = fields.List(fields.String(), required=True)


class AuditOut(Schema):
    at = _when()
    actor = fields.String(required=True, allow_none=True)
    side = fields.String(required=True, validate=validate.OneOf(_SIDES))
    action = fields.String(required=True)
    from_status = fields.String(data_key="from", required=True, allow_none=True)
    to_status = fields.String(data_key="to", required=True, allow_none=True)
    reason = fields.String(required=True, allow_none=True)


class HistoryOut(Schema):
    history = fields.List(fields.Nested(AuditOut), required=True)


class PartnerOut(Schema):
    """A partner; secret settings are never answered, ``secrets_set`` only names those that are set."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    adapter = fields.String(required=True)
    config = fields.Dict(required=True)
    secrets_set = fields.List(fields.String(), required=True)
    default_terms = fields.Dict(required=True)
    customer_ref = fields.String(required=True, allow_none=True)
    notify_email = fields.String(required=True, allow_none=True)
    active = fields.Boolean(required=True)
    last_poll_at = _when()
    last_poll_error = fields.String(required=True, allow_none=True)
    disabled_reason = fields.String(
        required=True, allow_none=True, metadata={"description": "why the partnership ended, ours or the partner's"}
    )
    disabled_by_partner_at = _when()
    leave_notice = fields.String(
        required=True, allow_none=True, metadata={"description": "'due' while the partner is still to be told"}
    )
    leave_error = fields.String(required=True, allow_none=True)


class PartnersOut(Schema):
    partners = fields.List(fields.Nested(PartnerOut), required=True)


class InvitationOut(Schema):
    """An invitation as a partner manager sees it: never its token or key."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(["invited", "expired", "joined", "revoked", "locked"]))
    created_at = _when()
    expires_at = _when()
    fingerprint = fields.String(
        required=True, metadata={"description": "SHA-256 of our public key for this invitation."}
    )
    partner_id = fields.Integer(required=True, allow_none=True)


class InvitationsOut(Schema):
    invitations = fields.List(fields.Nested(InvitationOut), required=True)


class InvitedOut(Schema):
    invitation = fields.Nested(InvitationOut, required=True)
    code = fields.String(required=True, metadata={"description": "The one-time code to give the partner: shown once."})


class DashboardOut(Schema):
    folders = fields.Dict(
        required=True,
        keys=fields.String(validate=validate.OneOf([Side.LEAD.value, Side.SERVICE.value])),
        values=fields.Dict(
            keys=fields.String(validate=validate.OneOf([f.value for f in Folder])), values=fields.Integer()
        ),
        metadata={"description": "Engagements per folder, for each role."},
    )


class FolderPageOut(Schema):
    items = fields.List(fields.Nested(EngagementOut), required=True)
    next = fields.String(required=True, allow_none=True, metadata={"description": "Pass as ``after`` for more."})


class DeadLetterOut(Schema):
    id = fields.Integer(required=True)
    message_id = fields.String(required=True)
    partner_id = fields.Integer(required=True)
    engagement_uid = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in MessageKind]))
    attempts = fields.Integer(required=True)
    last_error = fields.String(required=True, allow_none=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})


class DeadLettersOut(Schema):
    deadletters = fields.List(fields.Nested(DeadLetterOut), required=True)


class RetriedOut(Schema):
    id = fields.Integer(required=True)
    state = fields.String(required=True)


class AdapterSettingOut(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True)
    required = fields.Boolean(required=True)
    secret = fields.Boolean(required=True)
    default = fields.Raw(required=True, allow_none=True)
    choices = fields.List(fields.String(), required=True, allow_none=True)


class AdapterOut(Schema):
    name = fields.String(required=True)
    label = fields.String(required=True)
    capabilities = fields.List(fields.String(), required=True)
    config = fields.List(fields.Nested(AdapterSettingOut), required=True)
    error = fields.String(metadata={"description": "Only when the adapter's package cannot be loaded."})


class AdaptersOut(Schema):
    adapters = fields.List(fields.Nested(AdapterOut), required=True)


class PingOut(Schema):
    org = fields.String(required=True)


class LeftOut(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["left", "duplicate"]))


class InvitationKeyOut(Schema):
    public_key = fields.String(required=True, metadata={"description": "X25519, raw, url-safe base64."})
    org = fields.String(required=True)


class JoinedOut(Schema):
    link_id = fields.String(required=True)
    org = fields.String(required=True)
    confirmation = fields.String(required=True, metadata={"description": "Hex HMAC-SHA256 with the confirm key."})


class RotatingOut(Schema):
    started = fields.Boolean(required=True, metadata={"description": "False: a rotation was under way already."})
    rotation = fields.String(
        required=True, allow_none=True, metadata={"description": "Where the key rotation stands, in words."}
    )
    partner = fields.Nested(PartnerOut, required=True)


class RotatedOut(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["rotated"]))
    rotation_id = fields.String(required=True)


class ReceivedOut(Schema):
    status = fields.String(
        required=True,
        validate=validate.OneOf(["applied", "duplicate", "superseded"]),
        metadata={"description": "superseded: an action that crossed one of ours in flight and lost (docs/races.md)."},
    )
    applied = fields.Integer(required=True, metadata={"description": "The last sequence number applied."})


class ChangesQuery(Schema):
    after = fields.Integer(
        validate=validate.Range(min=0), metadata={"description": "Acknowledge 1..after; answer what follows."}
    )
    limit = fields.Integer(validate=validate.Range(min=1, max=500))


class ChangeOut(Schema):
    id = fields.String(required=True)
    seq = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in MessageKind]))
    engagement_uid = fields.String(required=True)
    payload = fields.Dict(required=True)


class BatchResultOut(Schema):
    id = fields.String(required=True, metadata={"description": "The message's id."})
    status = fields.String(
        validate=validate.OneOf(["applied", "duplicate", "superseded"]),
        metadata={"description": "Set when the message is done, as POST /messages answers it."},
    )
    error = fields.String(
        metadata={
            "description": "Set when it is not: out_of_order (an earlier message is missing; push it again "
            "later) or not_found (no engagement with the calling partner)."
        }
    )
    expected = fields.Integer(metadata={"description": "With out_of_order: the number we expect next."})
    message = fields.String(metadata={"description": "With another error: what is wrong."})


class BatchReceivedOut(Schema):
    results = fields.List(fields.Nested(BatchResultOut), required=True)


class ChangesOut(Schema):
    changes = fields.List(fields.Nested(ChangeOut), required=True)


class OpenApiOut(Schema):
    openapi = fields.String(required=True)
    info = fields.Dict(required=True)
    paths = fields.Dict(required=True)
    components = fields.Dict()
    security = fields.List(fields.Dict())


class PartnerEngagementOut(Schema):
    """For the partner's reconciliation: our status and a digest of each synced entry."""

    uid = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(_STATUSES))
    entries = fields.List(fields.Dict(), required=True)
