"""The node's log lines: one JSON object each, with ``level``, ``time``, ``message``,
``nodeId`` and, where known, ``roomId``, ``participantId`` and ``requestId``.

structlog renders the standard library's records too, so the ``logging.getLogger``
calls across the node need no change. Context is bound per request (the HTTP
middleware) and per room task (the events feed) with :mod:`structlog.contextvars`;
asyncio copies it into the tasks a request or a feed spawns.
"""
from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, merge_contextvars

__all__ = ["configure_logging", "bind_contextvars", "bound_contextvars", "redact"]

REDACTED = "[redacted]"
# a field whose name says it holds a secret is never printed (the control plane's
# chalicelib/telemetry/logs.py keeps the same lists: the two share no module)
SECRET_FIELD = re.compile(r"token|secret|password|authorization|credential|sealed|signature"
                          r"|private.?key|access.?key|api.?key|sas|connection.?string", re.I)
# text that looks like a secret, wherever it appears in a message
SECRET_TEXT = (
    (re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*"), REDACTED),  # a JWT
    (re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"gAAAAA[\w-]+=*"), REDACTED),  # a Fernet token (sealed credentials)
    (re.compile(r"(?i)\b(v1|signature|sig|token|secret|password|accountkey)=([^&\s,;\"']+)"),
     r"\1=" + REDACTED),  # signatures, query strings (presigned URLs, SAS), connection strings
)


def redact(_logger, _method, event: dict) -> dict:
    """structlog processor: hide secret-named keys and secret-looking text."""
    return {key: _clean(key, value) for key, value in event.items()}


def _clean(key: str, value):
    if SECRET_FIELD.search(key) and value not in (None, "", False):
        return REDACTED
    if isinstance(value, str):
        for pattern, replacement in SECRET_TEXT:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {k: _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(key, v) for v in value]
    return value


def configure_logging(node_id: str, level: int = logging.INFO,
                      stream: TextIO | None = None) -> None:
    """Send every record of the process, as one JSON line, to ``stream`` (stderr, the
    container's log stream, where a start-up error has always gone).

    :param node_id: stamped on every line (threads of the recording pool included,
        which do not share the loop's context).
    """
    def add_node_id(_logger, _method, event: dict) -> dict:
        event.setdefault("nodeId", node_id)
        return event

    shared = [merge_contextvars, structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name,
              structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"), add_node_id]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, redact,
                    structlog.processors.EventRenamer("message"),
                    structlog.processors.JSONRenderer(default=str)])
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger, cache_logger_on_first_use=True)
