"""Media node configuration, read once from the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "y", "on")


def _forwarding(value: str) -> str:
    if value not in ("direct", "pack"):
        raise ValueError("DROPON_FORWARDING must be 'direct' or 'pack'")
    return value


@dataclass(frozen=True)
class NodeConfig:
    """Everything a media node needs to start.

    :param node_id: this node's identity; media tokens must carry ``aud=media:<node_id>``.
    :param node_secret: HS256 secret shared with the control plane (never logged).
    :param control_url: control plane base URL; empty means standalone mode.
    :param public_url: base URL clients use to reach this node.
    :param host: address the HTTP server binds.
    :param port: HTTP port.
    :param ice_loopback_only: offer and accept only 127.0.0.0/8 ICE candidates.
    :param max_participants: default room capacity until a policy says otherwise.
    :param heartbeat_interval: seconds between heartbeats to the control plane.
    :param connect_timeout: seconds a new session may take to connect.
    :param consent_failures: unanswered ICE consent checks (~5 s apart) before a
        connection counts as failed.
    :param forwarding: ``direct`` (packetize once, write SRTP below aiortc's sender)
        or ``pack`` (aiortc's sender packs each subscriber's ``av.Packet`` s).
    """

    node_id: str
    node_secret: str
    control_url: str = ""
    public_url: str = "http://127.0.0.1:8100"
    host: str = "127.0.0.1"
    port: int = 8100
    ice_loopback_only: bool = True
    max_participants: int = 64
    heartbeat_interval: float = 5.0
    connect_timeout: float = 15.0
    forwarding: str = "direct"
    consent_failures: int = 12

    def __repr__(self) -> str:  # keep the secret out of logs
        return (
            f"NodeConfig(node_id={self.node_id!r}, control_url={self.control_url!r}, "
            f"public_url={self.public_url!r}, port={self.port}, "
            f"ice_loopback_only={self.ice_loopback_only})"
        )

    @property
    def standalone(self) -> bool:
        """True when no control plane is configured."""
        return not self.control_url

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "NodeConfig":
        """Build the configuration from ``DROPON_*`` variables.

        :raises ValueError: when the node secret is missing.
        """
        env = os.environ if environ is None else environ
        secret = env.get("DROPON_NODE_SECRET", "")
        if not secret:
            raise ValueError("DROPON_NODE_SECRET is required")
        port = int(env.get("DROPON_NODE_PORT", "8100"))
        host = env.get("DROPON_NODE_HOST", "127.0.0.1")
        return cls(
            node_id=env.get("DROPON_NODE_ID", "node-1"),
            node_secret=secret,
            control_url=env.get("DROPON_CONTROL_URL", "").rstrip("/"),
            public_url=env.get("DROPON_NODE_PUBLIC_URL", f"http://{host}:{port}").rstrip("/"),
            host=host,
            port=port,
            ice_loopback_only=_flag(env.get("DROPON_ICE_LOOPBACK_ONLY", "1")),
            max_participants=int(env.get("DROPON_MAX_PARTICIPANTS", "64")),
            heartbeat_interval=float(env.get("DROPON_HEARTBEAT_INTERVAL", "5")),
            connect_timeout=float(env.get("DROPON_CONNECT_TIMEOUT", "15")),
            forwarding=_forwarding(env.get("DROPON_FORWARDING", "direct")),
            consent_failures=max(1, int(env.get("DROPON_ICE_CONSENT_FAILURES", "12"))),
        )
