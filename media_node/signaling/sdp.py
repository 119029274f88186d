"""Small SDP inspections the node needs before handing an offer to aiortc."""
from __future__ import annotations

from ..errors import BadRequest

SENDING = ("sendrecv", "sendonly")
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


def media_directions(sdp: str) -> list[tuple[str, str, int]]:
    """``(kind, direction, port)`` per m-section, as the *offerer* states it.

    :raises BadRequest: when the body is not SDP.
    """
    if not sdp.lstrip().startswith("v=0"):
        raise BadRequest("bad_sdp", "body is not an SDP offer")
    session_direction = "sendrecv"
    sections: list[list] = []
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            parts = line[2:].split()
            if len(parts) < 2 or not parts[1].isdigit():
                raise BadRequest("bad_sdp", f"malformed media line {line!r}")
            sections.append([parts[0], None, int(parts[1])])
        elif line.startswith("a=") and line[2:] in DIRECTIONS:
            if sections:
                sections[-1][1] = line[2:]
            else:
                session_direction = line[2:]
    return [(kind, direction or session_direction, port) for kind, direction, port in sections]


def sends_media(sdp: str) -> bool:
    """True when any live audio/video section of the offer would send to the node."""
    return any(
        kind in ("audio", "video") and direction in SENDING and port != 0
        for kind, direction, port in media_directions(sdp)
    )
