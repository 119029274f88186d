"""Wire a media node from its configuration, in one place."""
from __future__ import annotations

from .config import NodeConfig, parse_composite_video, recording_dir
from .control.client import ControlPlane, HttpControlPlane, StandaloneControlPlane
from .ecs.protection import EcsAgentTaskProtection, NoTaskProtection
from .ice.binding import IceBinding, PortRange
from .ice.loopback import restrict_to_loopback, tolerate_consent_misses
from .node import MediaNode
from .recording.compositor import CompositeSettings
from .recording.recordings import Recordings
from .sfu.fanout import use_native
from .sfu.remb import set_publisher_max_bitrate
from .storage.credentials import FernetSecretOpener, KMSSecretOpener, SecretOpener


def build_node(config: NodeConfig, control_plane: ControlPlane | None = None) -> MediaNode:
    """Build a node; standalone when ``config.control_url`` is empty.

    :param control_plane: override (tests pass their own).
    """
    if config.ice_loopback_only:
        restrict_to_loopback()
    tolerate_consent_misses(config.consent_failures)
    set_publisher_max_bitrate(config.publisher_max_bitrate)
    use_native(config.fanout)
    if control_plane is None:
        if config.standalone:
            control_plane = StandaloneControlPlane()
        else:
            control_plane = HttpControlPlane(
                config.control_url, config.node_id, config.node_secret, config.public_url,
                capacity=config.max_participants, interval=config.heartbeat_interval)
    ports = PortRange(config.ice_port_min, config.ice_port_max) if config.ice_port_min else None
    ice = IceBinding(ports, config.ice_public_ip or None)
    opener = secret_opener(config)
    width, height, fps = parse_composite_video(config.composite_video)
    recordings = Recordings(control_plane, opener, recording_dir(config),
                            composite=CompositeSettings(width, height, fps,
                                                        config.composite_threads))
    protection = (EcsAgentTaskProtection(config.ecs_agent_uri, config.protection_minutes)
                  if config.ecs_agent_uri else NoTaskProtection())
    return MediaNode(config, control_plane, ice, recordings, protection)


def secret_opener(config: NodeConfig) -> SecretOpener | None:
    """KMS when ``DROPON_KMS_KEY_ID`` is set (deployed), else Fernet, else none."""
    if config.kms_key_id:
        import boto3
        return KMSSecretOpener(config.kms_key_id, boto3.client("kms"))
    return FernetSecretOpener(config.secrets_key) if config.secrets_key else None
