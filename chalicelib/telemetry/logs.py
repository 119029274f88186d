"""The control plane's log lines: one JSON object each, with ``level``, ``time``,
``message`` and, where known, ``requestId``, ``roomId``, ``participantId`` and ``nodeId``.

structlog renders the standard library's records too (``logging.getLogger`` across
chalicelib, Chalice's ``app.log``), so no call changes. The HTTP edge binds a request's
context with :mod:`structlog.contextvars`; a Lambda invocation binds its request id.
Secrets and tokens are hidden before a line is written (:func:`redact`).
"""
from __future__ import annotations

import logging
import os
import re
import sys
from typing import TextIO

import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, clear_contextvars

__all__ = ["configure_logging", "bind_contextvars", "bound_contextvars", "clear_contextvars",
           "redact"]

REDACTED = "[redacted]"
# a field whose name says it holds a secret is never printed
SECRET_FIELD = re.compile(r"token|secret|password|authorization|credential|sealed|signature"
                          r"|private.?key|access.?key|api.?key|sas|connection.?string", re.I)
# text that looks like a secret, wherever it appears in a message
SECRET_TEXT = (
    (re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*"), REDACTED),  # a JWT
    (re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"gAAAAA[\w-]+=*"), REDACTED),  # a Fernet token (sealed secrets)
    (re.compile(r"(?i)\b(v1|signature|sig|token|secret|password|accountkey)=([^&\s,;\"']+)"),
     r"\1=" + REDACTED),  # webhook signature headers, query strings, connection strings
)
_configured = False


def redact(_logger, _method, event: dict) -> dict:
    """structlog processor: hide secret-named fields and secret-looking text."""
    return {key: _hidden(key, value) for key, value in event.items()}


def _hidden(key: str, value):
    if SECRET_FIELD.search(key) and value not in (None, "", False):
        return REDACTED
    if isinstance(value, str):
        for pattern, replacement in SECRET_TEXT:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {k: _hidden(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_hidden(key, v) for v in value]
    return value


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a line is written (a test runner swaps
    it), not to what it was when logging was configured."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(stream: TextIO | None = None, *, force: bool = False) -> None:
    """Send every record of the process, as one JSON line, to ``stream`` (stdout, which
    Lambda sends to CloudWatch Logs); once per container unless ``force``.

    ``DROPON_LOG_LEVEL`` (default ``INFO``) sets the level.
    """
    global _configured
    if _configured and not force:
        return
    _configured = True
    shared = [structlog.contextvars.merge_contextvars, structlog.stdlib.add_log_level,
              structlog.stdlib.add_logger_name,
              structlog.processors.TimeStamper(fmt="iso", utc=True, key="time")]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, redact,
                    structlog.processors.EventRenamer("message"),
                    structlog.processors.JSONRenderer(default=str)])
    handler = logging.StreamHandler(stream) if stream else _StdoutHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]  # Lambda's runtime handler included: one format only
    root.setLevel(os.environ.get("DROPON_LOG_LEVEL", "INFO").upper())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger, cache_logger_on_first_use=True)
