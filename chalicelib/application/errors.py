"""Errors of the application layer, beside the domain's (``chalicelib.domain.errors``)."""
from __future__ import annotations

from chalicelib.domain.errors import DomainError


class NoMediaNode(DomainError):
    """No healthy media node can take the room; the client retries after ``retry_after``."""

    code, status = "no_media_node", 503
    retry_after = 5  # seconds

    def __init__(self) -> None:
        super().__init__("no healthy media node is available; retry shortly")


class WebhooksNotConfigured(DomainError):
    """No key to seal webhook secrets with (``DROPON_WEBHOOK_KEY``)."""

    code, status = "webhooks_not_configured", 503

    def __init__(self) -> None:
        super().__init__("webhooks need DROPON_WEBHOOK_KEY (a Fernet key) on the server")
