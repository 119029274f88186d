"""Media node configuration, read once from the environment."""
from __future__ import annotations

import ipaddress
import os
import tempfile
from dataclasses import dataclass


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "y", "on")


FORWARDING_MODES = ("direct", "pack")
FANOUT_MODES = ("auto", "c", "python")


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``.

    :raises ValueError: with a message naming the variable ``name`` and the choices.
    """
    if value not in choices:
        *rest, last = (f"'{c}'" for c in choices)
        raise ValueError(f"{name} must be {', '.join(rest)} or {last}")
    return value


def parse_composite_video(value: str) -> tuple[int, int, int]:
    """``(width, height, fps)`` of ``<width>x<height>@<fps>``.

    :raises ValueError: naming ``DROPON_COMPOSITE_VIDEO``, for any other form.
    """
    try:
        size, fps = value.split("@")
        width, height = (int(v) for v in size.lower().split("x"))
        if width % 2 or height % 2 or not (16 <= width <= 3840 and 16 <= height <= 2160) \
                or not 1 <= int(fps) <= 60:
            raise ValueError
        return width, height, int(fps)
    except ValueError:
        raise ValueError("DROPON_COMPOSITE_VIDEO must be <width>x<height>@<fps>, even sizes "
                         f"from 16x16 to 3840x2160 and 1-60 fps, got {value!r}") from None


def _int(env, name: str, default: str) -> int:
    value = env.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _float(env, name: str, default: str) -> float:
    value = env.get(name, default)
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None


DEFAULT_PUBLISHER_MAX_BITRATE = 1_500_000  # bits/s; ~720p30 VP8 at good quality
MAX_BITRATE_RANGE = (50_000, 50_000_000)


def check_publisher_max_bitrate(value: int) -> None:
    """``DROPON_PUBLISHER_MAX_BITRATE``: 0 (send no REMB) or 50,000-50,000,000 bits/s.

    :raises ValueError: with a message naming the variable.
    """
    low, high = MAX_BITRATE_RANGE
    if value != 0 and not low <= value <= high:
        raise ValueError(f"DROPON_PUBLISHER_MAX_BITRATE must be 0 (no REMB) or within "
                         f"{low}-{high} bits/s, got {value!r}")


SILENT_TIMEOUT_RANGE = (2.0, 300.0)


def check_silent_timeout(value: float) -> None:
    """``DROPON_SILENT_TIMEOUT``: 2-300 s.

    Below 2 s a healthy receive-only peer (RTCP every 0.5-1.5 s) could be ended.

    :raises ValueError: with a message naming the variable.
    """
    low, high = SILENT_TIMEOUT_RANGE
    if not low <= value <= high:  # also refuses NaN
        raise ValueError(f"DROPON_SILENT_TIMEOUT must be within {low:g}-{high:g} s, got {value!r}")


def check_ice_public_ip(value: str, loopback_only: bool) -> None:
    """``DROPON_ICE_PUBLIC_IP``: an IPv4 unicast address; 127.x only in loopback mode.

    :raises ValueError: with a message naming the variable.
    """
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"DROPON_ICE_PUBLIC_IP must be an IPv4 address, got {value!r}") from None
    if address.version != 4 or address.is_unspecified or address.is_multicast:
        raise ValueError(f"DROPON_ICE_PUBLIC_IP must be a unicast IPv4 address, got {value!r}")
    if loopback_only and not address.is_loopback:
        raise ValueError("DROPON_ICE_PUBLIC_IP outside 127.0.0.0/8 needs "
                         "DROPON_ICE_LOOPBACK_ONLY=0 (loopback mode offers 127.x only)")
    if not loopback_only and address.is_loopback:
        raise ValueError("DROPON_ICE_PUBLIC_IP=127.x is for loopback mode only "
                         "(DROPON_ICE_LOOPBACK_ONLY=1)")


def check_ice_ports(low: int, high: int) -> None:
    """``DROPON_ICE_PORT_MIN``/``MAX``: both unset (0, ephemeral) or 1024 <= min <= max <= 65535.

    :raises ValueError: with a message naming the variables.
    """
    if low == high == 0:
        return
    if not low or not high:
        raise ValueError("set both DROPON_ICE_PORT_MIN and DROPON_ICE_PORT_MAX, or neither")
    if not 1024 <= low <= 65535 or not 1024 <= high <= 65535:
        raise ValueError(f"DROPON_ICE_PORT_MIN/MAX must be within 1024-65535, got {low}-{high}")
    if low > high:
        raise ValueError(f"DROPON_ICE_PORT_MIN ({low}) is above DROPON_ICE_PORT_MAX ({high})")


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
    :param ice_public_ip: IPv4 address announced for the node's IPv4 host candidates
        (1:1 NAT); empty announces the interface addresses.
    :param ice_port_min: lowest UDP port of ICE sockets; 0 with ``ice_port_max`` 0
        means ephemeral ports.
    :param ice_port_max: highest UDP port of ICE sockets.
    :param publisher_max_bitrate: bits/s each publisher is told by REMB it may send
        (a fixed cap, :mod:`media_node.sfu.remb`); 0 sends no REMB.
    :param silent_timeout: seconds a connected peer may send nothing (no STUN, DTLS,
        RTP or RTCP) before its session is ended as ``silent`` (``liveness.py``).
    :param secrets_key: ``DROPON_SECRETS_KEY``, the Fernet key that opens recording
        destinations' sealed credentials (never logged); empty: none can be opened.
    :param kms_key_id: ``DROPON_KMS_KEY_ID``, the AWS KMS key that opens destinations'
        credentials when deployed (instead of ``secrets_key``); empty: Fernet.
    :param recording_dir: where recordings are written on the node's disk before and
        while they upload (and kept when an upload fails); empty: the temp folder.
    :param stage: ``DROPON_STAGE``, the ``Stage`` dimension of the ``NodeLoad`` metric the
        node publishes (:mod:`media_node.telemetry.load`); empty (``make run``): none.
    :param drain_seconds: how long a stopping node may take to finish its recordings'
        uploads (``DROPON_DRAIN_SECONDS``; below ECS's ``stopTimeout``).
    :param ecs_agent_uri: ``ECS_AGENT_URI``, which ECS sets in the container: the node keeps
        task scale-in protection while it carries calls (:mod:`media_node.ecs.protection`);
        empty (off ECS): none.
    :param protection_minutes: ``DROPON_TASK_PROTECTION_MINUTES``, how long each protection
        lasts unless renewed (1-2880; renewed at half of it while the node carries calls).
    :param stun_server: ``host:port`` of a STUN server that tells the node its public
        address when ``DROPON_ICE_PUBLIC_IP`` is unset (``media_node.ice.public_address``).
    :param metrics_token: bearer token ``GET /metrics`` wants (never logged); empty: none.
    :param composite_video: the composite recording's picture, ``<width>x<height>@<fps>``
        (even sizes, 1-60 fps).
    :param composite_threads: threads of the composite's decoders and encoder (its own
        process; 1 is one core at most for the encoder).
    :param fanout: the direct path's packet loop: ``c`` (``media_node/sfu/_fanout``, one
        ``sendmmsg`` per frame), ``python``, or ``auto`` (C where it is built).
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
    ice_public_ip: str = ""
    ice_port_min: int = 0
    ice_port_max: int = 0
    publisher_max_bitrate: int = DEFAULT_PUBLISHER_MAX_BITRATE
    fanout: str = "auto"
    silent_timeout: float = 12.0
    secrets_key: str = ""
    recording_dir: str = ""
    kms_key_id: str = ""
    stage: str = ""
    drain_seconds: float = 100.0
    ecs_agent_uri: str = ""
    protection_minutes: int = 30
    stun_server: str = ""
    metrics_token: str = ""
    composite_video: str = "640x480@30"
    composite_threads: int = 1

    def __post_init__(self) -> None:
        parse_composite_video(self.composite_video)
        if self.composite_threads < 1:
            raise ValueError("DROPON_COMPOSITE_THREADS must be at least 1")
        if self.ice_public_ip:
            check_ice_public_ip(self.ice_public_ip, self.ice_loopback_only)
        check_ice_ports(self.ice_port_min, self.ice_port_max)
        check_publisher_max_bitrate(self.publisher_max_bitrate)
        check_silent_timeout(self.silent_timeout)
        if not 1 <= self.protection_minutes <= 2880:  # what ECS accepts
            raise ValueError("DROPON_TASK_PROTECTION_MINUTES must be within 1-2880, "
                             f"got {self.protection_minutes!r}")

    def __repr__(self) -> str:  # keep the secret out of logs
        return (
            f"NodeConfig(node_id={self.node_id!r}, control_url={self.control_url!r}, "
            f"public_url={self.public_url!r}, port={self.port}, "
            f"ice_loopback_only={self.ice_loopback_only}, "
            f"ice_public_ip={self.ice_public_ip!r}, "
            f"ice_ports={self.ice_port_min}-{self.ice_port_max})"
        )

    @property
    def standalone(self) -> bool:
        """True when no control plane is configured."""
        return not self.control_url

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "NodeConfig":
        """Build the configuration from ``DROPON_*`` variables.

        :raises ValueError: when the node secret is missing or a value is invalid.
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
            forwarding=check_choice("DROPON_FORWARDING", env.get("DROPON_FORWARDING", "direct"),
                                    FORWARDING_MODES),
            consent_failures=max(1, int(env.get("DROPON_ICE_CONSENT_FAILURES", "12"))),
            ice_public_ip=env.get("DROPON_ICE_PUBLIC_IP", "").strip(),
            ice_port_min=_int(env, "DROPON_ICE_PORT_MIN", "0"),
            ice_port_max=_int(env, "DROPON_ICE_PORT_MAX", "0"),
            publisher_max_bitrate=_int(env, "DROPON_PUBLISHER_MAX_BITRATE",
                                       str(DEFAULT_PUBLISHER_MAX_BITRATE)),
            fanout=check_choice("DROPON_FANOUT", env.get("DROPON_FANOUT", "auto"), FANOUT_MODES),
            silent_timeout=_float(env, "DROPON_SILENT_TIMEOUT", "12"),
            secrets_key=env.get("DROPON_SECRETS_KEY", ""),
            recording_dir=env.get("DROPON_RECORDING_DIR", ""),
            kms_key_id=env.get("DROPON_KMS_KEY_ID", ""),
            stage=env.get("DROPON_STAGE", "").strip(),
            drain_seconds=_float(env, "DROPON_DRAIN_SECONDS", "100"),
            ecs_agent_uri=env.get("ECS_AGENT_URI", "").strip(),
            protection_minutes=_int(env, "DROPON_TASK_PROTECTION_MINUTES", "30"),
            stun_server=env.get("DROPON_STUN_SERVER", "").strip(),
            metrics_token=env.get("DROPON_METRICS_TOKEN", ""),
            composite_video=env.get("DROPON_COMPOSITE_VIDEO", "640x480@30"),
            composite_threads=_int(env, "DROPON_COMPOSITE_THREADS", "1"),
        )


def recording_dir(config: NodeConfig) -> str:
    """Where this node's recordings are spooled: ``DROPON_RECORDING_DIR``, else a folder of
    its own under the temp folder (``<temp>/dropon-recordings/<nodeId>``). One folder per
    node: at start a node finishes and keeps the files its notes there name, so two nodes
    on one folder would take each other's recordings."""
    return config.recording_dir or os.path.join(tempfile.gettempdir(), "dropon-recordings",
                                                 config.node_id)
