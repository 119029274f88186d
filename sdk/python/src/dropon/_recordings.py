"""The calls both clients share for recordings, destinations and webhooks, written once
(see ``_rooms.py``): admin calls, except that a joined host's ``token=`` may start,
stop and read the recordings of its room."""
from __future__ import annotations

from typing import Any

from ._transport import Spec, body, path
from .models import Destination, Recording, Webhook


def _recording(data: dict) -> Recording:
    return Recording.from_api(data)


def _webhook(data: dict) -> Webhook:
    return Webhook.from_api(data)


class RecordingCalls:
    """Destinations (the customer's buckets), recordings into them, and webhooks."""

    def _send(self, spec: Spec) -> Any:  # pragma: no cover - each client defines it
        raise NotImplementedError

    # destinations

    def create_destination(self, type: str, **settings: Any) -> Destination:
        """Register a bucket (``POST /destinations``); secrets are write-only.

        ``type`` is ``s3`` (``bucket, region, prefix, endpoint, force_path_style,
        credentials={"accessKeyId", "secretAccessKey"}, role_arn, external_id``), ``gcs``
        (``bucket, prefix, endpoint, credentials``) or ``azure`` (``account, container,
        prefix, endpoint, account_key | sas_token``); snake_case or the API's camelCase.
        """
        return self._send(Spec("POST", "/destinations", body(type=type, **settings),
                               parse=Destination.from_api))

    def list_destinations(self) -> list[Destination]:
        """Every registered destination, without secrets."""
        return self._send(Spec("GET", "/destinations", parse=lambda d: [
            Destination.from_api(x) for x in d["destinations"]]))

    def get_destination(self, destination_id: str) -> Destination:
        """One destination, without secrets."""
        return self._send(Spec("GET", path("/destinations/{}", destination_id),
                               parse=Destination.from_api))

    def delete_destination(self, destination_id: str) -> dict:
        """Forget a destination; recordings already made stay where they are."""
        return self._send(Spec("DELETE", path("/destinations/{}", destination_id)))

    def verify_destination(self, destination_id: str) -> dict:
        """Write and delete a probe object: ``{"ok": True}`` or ``{"ok": False, "error"}``
        with the store's own message."""
        return self._send(Spec("POST", path("/destinations/{}/verify", destination_id)))

    # recordings

    def start_sfu_recording(self, room_id: str, destination_id: str,
                            output: str = "per-track", *, token: str | None = None) -> Recording:
        """Record an SFU room into a destination: ``output`` ``"per-track"`` (a file per
        published track) or ``"composite"``. Answers at once with ``status="starting"``;
        follow it with :meth:`get_recording` or the ``RECORDING_*`` events."""
        return self._send(Spec("POST", path("/rooms/{}/recordings", room_id),
                               body(destination_id=destination_id, output=output),
                               token=token, parse=_recording))

    def stop_recording(self, room_id: str, recording_id: str, *,
                       token: str | None = None) -> Recording:
        """Stop a recording; its node still finishes the uploads (``stopping``, then
        ``uploading``, then ``completed`` or ``failed``)."""
        return self._send(Spec("POST", path("/rooms/{}/recordings/{}/stop", room_id,
                                            recording_id), token=token, parse=_recording))

    def retry_upload(self, room_id: str, recording_id: str, *,
                     token: str | None = None) -> Recording:
        """Upload a ``failed`` recording's files again."""
        return self._send(Spec("POST", path("/rooms/{}/recordings/{}/retry-upload", room_id,
                                            recording_id), token=token, parse=_recording))

    def get_recording(self, room_id: str, recording_id: str, *,
                      token: str | None = None) -> Recording:
        """A recording, with its files (uri, bytes, sha256, ...) once written."""
        return self._send(Spec("GET", path("/rooms/{}/recordings/{}", room_id, recording_id),
                               token=token, parse=_recording))

    def list_recordings(self, room_id: str, *, token: str | None = None) -> list[Recording]:
        """Every recording of the room."""
        return self._send(Spec("GET", path("/rooms/{}/recordings", room_id), token=token,
                               parse=lambda d: [_recording(r) for r in d["recordings"]]))

    # webhooks

    def create_webhook(self, url: str, events: list[str] | None = None, *,
                       room_id: str | None = None, rooms: list[str] | None = None) -> Webhook:
        """Register an endpoint for room events (``["*"]`` by default), for every room or
        for ``room_id``/``rooms``. The answer's ``secret`` is shown only here: keep it for
        :func:`dropon.webhooks.verify`."""
        return self._send(Spec("POST", "/webhooks", body(
            url=url, events=events, room_id=room_id, rooms=rooms), parse=_webhook))

    def list_webhooks(self) -> list[Webhook]:
        """Every endpoint, without secrets."""
        return self._send(Spec("GET", "/webhooks",
                               parse=lambda d: [_webhook(w) for w in d["webhooks"]]))

    def get_webhook(self, webhook_id: str) -> Webhook:
        """One endpoint, without its secret."""
        return self._send(Spec("GET", path("/webhooks/{}", webhook_id), parse=_webhook))

    def delete_webhook(self, webhook_id: str) -> Webhook:
        """Stop sending to an endpoint (``status="deleted"``)."""
        return self._send(Spec("DELETE", path("/webhooks/{}", webhook_id), parse=_webhook))

    def rotate_webhook_secret(self, webhook_id: str, *,
                              keep_previous_for: int | None = None) -> dict:
        """A new secret, shown once; the old one keeps signing for ``keep_previous_for``
        seconds (default 0)."""
        return self._send(Spec("POST", path("/webhooks/{}/rotate-secret", webhook_id),
                               body(keep_previous_for=keep_previous_for)))

    def webhook_deliveries(self, webhook_id: str, *, limit: int | None = None) -> list[dict]:
        """The latest delivery attempts, newest first: outcome, response code, latency."""
        return self._send(Spec("GET", path("/webhooks/{}/deliveries", webhook_id),
                               params={"limit": limit}, parse=lambda d: d["deliveries"]))
