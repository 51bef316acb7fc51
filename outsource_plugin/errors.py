"""The plugin's exception tree.

Each error carries the HTTP status it maps to, so that one handler in the
blueprints renders every failure the same way (JSON for the API, a page for
forms) and no view decides status codes on its own.
"""

from __future__ import annotations

from typing import Any


class OutsourceError(Exception):
    """Root of every error the plugin raises on purpose."""

    status_code = 500
    code = "outsource_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ValidationFailed(OutsourceError):
    """Input did not match its schema; ``details`` names each bad field."""

    status_code = 400
    code = "validation_failed"


class InvalidPartnerMessage(ValidationFailed):
    """A partner's offer, action or entry failed its schema: a peer gets the 400 (and
    dead-letters the message), a polled change becomes a sync error; nothing is written."""


class NotAuthenticated(OutsourceError):
    """No user, or a partner request whose signature, clock or id fails."""

    status_code = 401
    code = "not_authenticated"


class PermissionDenied(OutsourceError):
    """The user is known but their outsourcing level does not allow this."""

    status_code = 403
    code = "permission_denied"


class NotFound(OutsourceError):
    status_code = 404
    code = "not_found"


class TransitionRefused(OutsourceError):
    """The transition table has no row for (status, action, side)."""

    status_code = 409
    code = "transition_refused"


class ReadOnlyEntry(OutsourceError):
    """An edit of an entry that the sync rules make read-only here."""

    status_code = 409
    code = "read_only_entry"


class Conflict(OutsourceError):
    status_code = 409
    code = "conflict"


class TicketNotDeletable(Conflict):
    """The host deleted a ticket that holds accepted outsourced work: raised inside the host's
    commit, which it stops (``core.engagements.ticket_deleted``)."""


class RotationCrossed(Conflict):
    """Both sides started a key rotation at once: the one with the lower rotation id goes on,
    and the other side, told so, drops its own."""

    code = "rotation_crossed"


class RotationPending(Conflict):
    """A key rotation cannot take this step yet (another is under way, or the rotation is not
    known here): the caller tries again later."""

    code = "rotation_pending"


class InvitationRefused(OutsourceError):
    """An invitation code that cannot be used (used, expired, revoked, locked, or the
    inviting host's key is not the one its fingerprint names); nothing is registered."""

    status_code = 409
    code = "invitation_refused"


class MailLinkRefused(OutsourceError):
    """A link from an e-mail to a partner that is forged, altered, expired, or whose offer is closed;
    nothing is changed. Forged and closed answer 403; expired answers 410."""

    status_code = 403
    code = "link_refused"

    def __init__(self, message: str, *, status_code: int = 403) -> None:
        super().__init__(message)
        self.status_code = status_code


class JoinProofFailed(NotAuthenticated):
    """A join request not signed with the key only the token's holder can derive: counted
    against the invitation, so the caller commits the count before answering."""


class TooManyAttempts(OutsourceError):
    status_code = 429
    code = "too_many_attempts"


class PayloadTooLarge(OutsourceError):
    status_code = 413
    code = "payload_too_large"


class AdapterError(OutsourceError):
    """A partner system failed; subclasses say whether a retry can help.

    ``http_status`` is the partner's HTTP status when it answered at all, so a
    connection test can say what came back without repeating the answer's body.
    ``answer`` is that body when it was a JSON object: for the adapter to read
    (a batch's 400 names its bad item), never to show or log, as it is the partner's text.
    """

    status_code = 502
    code = "adapter_error"

    def __init__(
        self, message: str, *, http_status: int | None = None, answer: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.http_status = http_status
        self.answer = answer


class TransientAdapterError(AdapterError):
    """Worth retrying: connection errors, timeouts, 5xx, 429."""

    code = "partner_unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class PermanentAdapterError(AdapterError):
    """Retrying cannot help (bad credentials, rejected payload): dead-letter it."""

    code = "partner_refused"


class ConfigurationError(OutsourceError):
    """A setting asks for something this installation cannot do (e.g. a missing optional extra)."""

    code = "configuration_error"


class MigrationFailed(OutsourceError):
    """The plugin's schema could not be moved to the asked revision (unknown revision, failed step)."""

    code = "migration_failed"


class SecretKeyError(OutsourceError):
    """Partner secrets cannot be encrypted or decrypted with the configured keys.

    Raised instead of a cryptography stack trace: the message says which
    setting to fix and never contains a key or a secret.
    """

    code = "secret_key_error"
