"""Wires the control plane once per container (Lambda) or process (chalice local).

The one place where the application and its adapters are built: the settings, the
``RoomsApplication`` on the event store the environment names, the media nodes'
registry and the recording destinations beside it, the ``NodeService`` on both, the
secrets' sealer, the buckets' probes, the ``RecordingService``, and the webhooks
(``WebhooksApplication`` with its secret box and URL guard, and the ``WebhookDeliverer``
with its HTTP sender), and the real-time sockets (the connections table and the
``SocketService``, and the ``SignalingService`` of P2P rooms on the same sockets). Everything is built lazily on first use; tests call ``configure`` to pass their own parts instead of patching module globals.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Callable, Mapping

from eventsourcing.utils import Environment

from .application.destinations import (BucketProbe, DestinationService, DestinationStore,
                                       SecretSealer)
from .application.deliverer import WebhookDeliverer
from .application.nodes import NodeRegistry, NodeService
from .application.recordings import RecordingService
from .application.rooms import RoomsApplication
from .application.signaling import SignalingService
from .application.sockets import ConnectionStore, SocketService
from .application.webhooks import WebhooksApplication
from .config import Settings, WebhookSettings
from .domain.leftovers import SweepSchedule

DYNAMODB_MODULE = "chalicelib.persistence.dynamodb"

_lock = threading.RLock()
_parts: dict[str, object] = {}  # settings, application, node_registry, nodes, webhooks...
# what ``configure`` builds again on the parts it is given
_DERIVED = ("nodes", "destinations", "recordings", "webhooks", "webhook_deliverer", "sockets",
            "signaling")
_clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731


def configure(*, settings: Settings | None = None, application: RoomsApplication | None = None,
              node_registry: NodeRegistry | None = None,
              destination_store: DestinationStore | None = None,
              sealer: SecretSealer | None = None,
              probes: Mapping[str, BucketProbe] | None = None,
              webhook_settings: WebhookSettings | None = None,
              connections: ConnectionStore | None = None,
              clock: Callable[[], datetime] | None = None) -> None:
    """Use these parts instead of building them from the environment."""
    global _clock
    given = {"settings": settings, "application": application, "node_registry": node_registry,
             "destination_store": destination_store, "sealer": sealer, "probes": probes,
             "webhook_settings": webhook_settings, "connections": connections}
    with _lock:
        if settings is not None:  # built again for the new settings
            for name in ("node_registry", "destination_store", "sealer", "connections"):
                if given[name] is None:
                    _parts.pop(name, None)
        _parts.update({name: part for name, part in given.items() if part is not None})
        for name in _DERIVED:  # built again on the parts now configured
            _parts.pop(name, None)
        if clock is not None:
            _clock = clock


def reset() -> None:
    """Forget what was built, so the next call builds afresh from the environment."""
    global _clock
    with _lock:
        _parts.clear()
        _clock = lambda: datetime.now(timezone.utc)  # noqa: E731


def _part(name: str, build: Callable[[], object]):
    with _lock:
        if name not in _parts:
            _parts[name] = build()
        return _parts[name]


def settings() -> Settings:
    return _part("settings", Settings.from_env)


def application() -> RoomsApplication:
    """The ``RoomsApplication`` of this container, on the store the environment names."""
    return _part("application", lambda: build_application(settings().store_env))


def node_registry() -> NodeRegistry:
    """The media nodes' registry, on the same store as the application."""
    return _part("node_registry", lambda: build_node_registry(settings().store_env))


def nodes() -> NodeService:
    """The media nodes' use cases, on this container's registry and application."""
    return _part("nodes", lambda: NodeService(node_registry(), application(),
                                              settings().node_dead_after))


def destination_store() -> DestinationStore:
    """Where recording destinations are kept, on the same store as the application."""
    return _part("destination_store", lambda: build_destination_store(settings().store_env))


def sealer() -> SecretSealer:
    """AWS KMS when ``DROPON_KMS_KEY_ID`` is set, else the Fernet key ``DROPON_SECRETS_KEY``."""
    return _part("sealer", lambda: build_sealer(settings()))


def probes() -> Mapping[str, BucketProbe]:
    """A probe per destination type (each imports its cloud's library when first built)."""
    def build() -> Mapping[str, BucketProbe]:
        from .adapters import keep_sdk_logs_above_debug
        from .adapters.azure_blob import AzureBlobProbe
        from .adapters.gcs import GCSProbe
        from .adapters.s3 import S3Probe
        keep_sdk_logs_above_debug()
        return {"s3": S3Probe(), "gcs": GCSProbe(), "azure": AzureBlobProbe()}
    return _part("probes", build)


def destinations() -> DestinationService:
    return _part("destinations", lambda: DestinationService(destination_store(), sealer(),
                                                            probes()))


def recordings() -> RecordingService:
    def build() -> RecordingService:
        s = settings()
        return RecordingService(nodes(), destinations(), SweepSchedule(
            first_delay=s.recording_sweep_retry_base, max_delay=s.recording_sweep_retry_cap,
            max_attempts=s.recording_sweep_attempts, deadline=s.recording_sweep_deadline))
    return _part("recordings", build)


def webhook_settings() -> WebhookSettings:
    return _part("webhook_settings", WebhookSettings.from_env)


def webhooks() -> WebhooksApplication:
    """Webhook endpoints and their queues, on the same store as the rooms."""
    return _part("webhooks", lambda: build_webhooks(settings().store_env, webhook_settings()))


def webhook_deliverer() -> WebhookDeliverer:
    """The deliverer of this process: follows the rooms' log, sends what is due."""
    from .delivery.http import AddressGuard, UrllibSender
    hooks = webhook_settings()
    return _part("webhook_deliverer", lambda: WebhookDeliverer(
        webhooks(), application().notification_log,
        UrllibSender(AddressGuard(hooks.allow_private), hooks.timeout), hooks, now))


def build_webhooks(store_env: Mapping[str, str], hooks: WebhookSettings) -> WebhooksApplication:
    from .delivery.http import AddressGuard
    from .persistence.secret_box import FernetSecretBox
    return WebhooksApplication(env=dict(store_env),
                               secret_box=FernetSecretBox(hooks.key) if hooks.key else None,
                               url_guard=AddressGuard(hooks.allow_private))


def connections() -> ConnectionStore:
    """The rooms' real-time sockets, on the same store as the application."""
    return _part("connections", lambda: build_connections(settings().store_env))


def sockets() -> SocketService:
    """The real-time sockets' use cases, on this container's application."""
    return _part("sockets", lambda: SocketService(application(), connections()))


def signaling() -> SignalingService:
    """Signaling between the peers of P2P rooms, on the same sockets."""
    return _part("signaling", lambda: SignalingService(application(), connections()))


def build_application(store_env: Mapping[str, str]) -> RoomsApplication:
    return RoomsApplication(env=dict(store_env))


def build_node_registry(store_env: Mapping[str, str]) -> NodeRegistry:
    """``<DYNAMODB_TABLE_PREFIX>-nodes`` beside the event store when the store is DynamoDB;
    a process-local registry otherwise (the in-memory store)."""
    from .persistence.nodes import DynamoDBNodeRegistry, InMemoryNodeRegistry
    return _beside_the_store(store_env, DynamoDBNodeRegistry, InMemoryNodeRegistry)


def build_destination_store(store_env: Mapping[str, str]) -> DestinationStore:
    """``<DYNAMODB_TABLE_PREFIX>-destinations`` beside the event store when the store is
    DynamoDB; a process-local store otherwise (the in-memory store)."""
    from .persistence.destinations import DynamoDBDestinationStore, InMemoryDestinationStore
    return _beside_the_store(store_env, DynamoDBDestinationStore, InMemoryDestinationStore)


def build_connections(store_env: Mapping[str, str]) -> ConnectionStore:
    """``<DYNAMODB_TABLE_PREFIX>-connections`` when the store is DynamoDB, else in memory."""
    from .persistence.connections import DynamoDBConnectionStore, InMemoryConnectionStore
    return _beside_the_store(store_env, DynamoDBConnectionStore, InMemoryConnectionStore)


def _beside_the_store(store_env: Mapping[str, str], on_dynamodb, in_memory):
    env = Environment(RoomsApplication.name, dict(store_env))
    if env.get("PERSISTENCE_MODULE", "").split(":")[0] != DYNAMODB_MODULE:
        return in_memory()
    return on_dynamodb.from_env(env)


def build_sealer(config: Settings) -> SecretSealer:
    from .adapters.sealers import FernetSealer, KMSSealer, NoSealer
    if config.kms_key_id:
        import boto3
        env = config.store_env
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
        return KMSSealer(config.kms_key_id, boto3.client("kms", region_name=region))
    return FernetSealer(config.secrets_key) if config.secrets_key else NoSealer()


def now() -> datetime:
    return _clock()
