"""The DropOnAir media node: an aiortc SFU, one subpackage per concept.

- :mod:`media_node.signaling`: the WHIP/WHEP-style HTTP edge, SDP, media tokens, notices;
- :mod:`media_node.sfu`: sessions, rooms, forwarding, fan-out, receive path, keyframes, REMB;
- :mod:`media_node.ice`: loopback-only ICE and where ICE sockets bind;
- :mod:`media_node.control`: the control-plane client and the room events it feeds;
- :mod:`media_node.internals`: the private parts of aiortc, aioice and pylibsrtp relied on.

:mod:`media_node.node` ties them together, :mod:`media_node.bootstrap` wires a node
from :mod:`media_node.config`, and ``python -m media_node`` runs one. Development tools
live in ``media_node_dev`` (never imported here). docs/architecture.md, "media_node
layout", gives the direction imports go.
"""
