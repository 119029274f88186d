"""Named errors of the media node; the HTTP edge maps them to the API's JSON shape."""
from __future__ import annotations


class NodeError(Exception):
    """Base of every error the node reports to a client.

    :param code: stable machine-readable code.
    :param message: human-readable detail (never contains secrets).
    """

    status = 400

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code


class BadRequest(NodeError):
    """Malformed input: not SDP, wrong content type, unparseable candidate."""

    status = 400


class Unauthorized(NodeError):
    """Missing, invalid or expired token."""

    status = 401


class Forbidden(NodeError):
    """Valid token, but the action is not allowed (kicked, audience publishing, full room)."""

    status = 403


class NotFound(NodeError):
    """Unknown session."""

    status = 404


class Conflict(NodeError):
    """The room is closed or the session state does not allow the request."""

    status = 409


class Unavailable(NodeError):
    """The node cannot take this request now (a resource is exhausted); retry later."""

    status = 503


def error_body(code: str, message: str) -> dict:
    """The JSON body of an error, the control plane API's shape (docs/api.md).

    ``{"error": {"code": code, "message": message}}``
    """
    return {"error": {"code": code, "message": message}}
