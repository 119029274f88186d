"""The one place where failures become HTTP responses.

Every error leaves the API as ``{"error": {"code": "...", "message": "..."}}``.
Domain and application errors carry their own ``code`` and ``status`` (``no_media_node``
is 503 with ``Retry-After``); errors of the edge itself are ``ApiError``; the event
store's refusals are 422 (``event_too_large``, ``save_too_large``) and DynamoDB
throttling or unavailability 503 ``store_unavailable`` with ``Retry-After``;
anything else is a bug, logged by type and answered with ``internal_error`` without detail.
"""
from __future__ import annotations

import logging

from chalice import Response

from ..application.errors import NoMediaNode
from ..telemetry import metrics

log = logging.getLogger(__name__)

ALLOWED_STATUSES = {400, 401, 403, 404, 405, 409, 413, 415, 422, 503}
# DynamoDB answers that mean "try again later", however pynamodb or botocore wraps them
STORE_BUSY_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException",
                    "RequestLimitExceeded", "ThrottlingError", "ProvisionedThroughputExceeded",
                    "InternalServerError", "ServiceUnavailable", "ServiceUnavailableException"}
STORE_RETRY_AFTER = "1"


class ApiError(Exception):
    """An error found at the edge (input, authentication, permission)."""

    status = 400

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(message)
        self.code, self.message = code, message
        if status is not None:
            self.status = status


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(code, message, 400)


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(code, message, 401)


def forbidden(code: str, message: str) -> ApiError:
    return ApiError(code, message, 403)


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def error_response(code: str, message: str, status: int, headers: dict | None = None,
                   body: dict | None = None) -> Response:
    return Response(body={"error": body} if body else error_body(code, message),
                    status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def to_response(exc: Exception) -> Response:
    """Map any exception raised while serving a request to the one error shape."""
    if isinstance(exc, ApiError):
        return error_response(exc.code, exc.message, exc.status)
    if isinstance(exc, NoMediaNode):
        return error_response(exc.code, exc.message, exc.status,
                              {"Retry-After": str(exc.retry_after)})
    code, status = getattr(exc, "code", None), getattr(exc, "status", None)
    if isinstance(code, str) and status in ALLOWED_STATUSES:
        # a domain error: its message and ids name rooms and rules, never secrets
        body = exc.as_dict() if hasattr(exc, "as_dict") else None
        return error_response(code, str(exc), status, body=body)
    if _is_aggregate_not_found(exc):
        return error_response("room_not_found", "no such room", 404)
    store = _store_error(exc)
    if store is not None:
        return store
    # a bug: the type goes to the log, nothing of it to the caller
    log.error("unhandled %s while serving a request", type(exc).__name__, exc_info=exc)
    return error_response("internal_error", "internal error", 500)


def _is_aggregate_not_found(exc: Exception) -> bool:
    from eventsourcing.application import AggregateNotFoundError
    return isinstance(exc, AggregateNotFoundError)


def _store_error(exc: Exception) -> Response | None:
    """The event store refused a save (too large) or DynamoDB is busy or unavailable."""
    from ..persistence.errors import ItemTooLargeError, TransactionTooLargeError
    if isinstance(exc, (ItemTooLargeError, TransactionTooLargeError)):
        # nothing was written; the message states sizes and limits, no data
        return error_response(exc.code, str(exc), 422)
    if _store_busy(exc):
        log.warning("event store unavailable: %s", type(exc).__name__)
        metrics.emit(metrics.STORE_THROTTLED)
        return error_response("store_unavailable", "the room store is busy or unavailable; "
                              "retry shortly", 503, {"Retry-After": STORE_RETRY_AFTER})
    return None


def _store_busy(exc: BaseException) -> bool:
    """Whether ``exc`` or anything it wraps is DynamoDB throttling or unavailability."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import ReadTimeoutError
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (BotoConnectionError, ReadTimeoutError)):
            return True
        response = getattr(e, "response", None) or {}  # botocore's ClientError
        if isinstance(response, dict) and response.get("Error", {}).get("Code") in STORE_BUSY_CODES:
            return True
        # pynamodb keeps the botocore error in .cause; cancellation reasons name throttling
        reasons = getattr(e, "cancellation_reasons", None) or []
        if any(r is not None and r.code in STORE_BUSY_CODES for r in reasons):
            return True
        stack += [getattr(e, "cause", None), e.__cause__, e.__context__]
    return False


# Chalice answers some requests itself (wrong method, wrong content type, a view's
# ChaliceViewError) with {"Code": ..., "Message": ...}; these become our shape.
_CHALICE_CODES = {
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequestError": "invalid_request",
    "BadRequest": "invalid_request",
    "NotFoundError": "not_found",
    "UnauthorizedError": "unauthorized",
    "ForbiddenError": "forbidden",
    "RequestTooLargeError": "body_too_large",
    "InternalServerError": "internal_error",
}


def normalize(response: Response) -> Response:
    """Rewrite a response that Chalice built itself into the one error shape."""
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and set(body) == {"Code", "Message"}:
        code = _CHALICE_CODES.get(body["Code"], "invalid_request")
        message = "internal error" if code == "internal_error" else str(body["Message"])
        return error_response(code, message, response.status_code,
                              {k: v for k, v in response.headers.items()
                               if k.lower() not in ("content-type",)})
    return response
