"""Keep RTP header extension ids stable across renegotiations.

aiortc's ``createOffer`` numbers header extensions from its own table every time, so a
node-driven re-offer can give an id that the first exchange bound to another URI.
Browsers refuse that ("RTP extension ID reassignment not supported"): within a BUNDLE
group an id means one URI for the whole session. ``align_extmap`` renumbers an offer
with the ids already negotiated, and gives URIs new to the session unused ids.
"""
from __future__ import annotations

import re

EXTMAP = re.compile(r"^a=extmap:(\d+)(/\S+)? (\S+)(.*)$")
ONE_BYTE_IDS = range(1, 15)  # RFC 8285: 15 is reserved


def extmap_ids(sdp: str) -> dict[str, int]:
    """URI -> id of every ``a=extmap`` line in ``sdp``."""
    ids = {}
    for line in sdp.splitlines():
        match = EXTMAP.match(line.strip())
        if match:
            ids.setdefault(match.group(3), int(match.group(1)))
    return ids


def align_extmap(offer: str, negotiated: str) -> str:
    """``offer`` with each extension URI numbered as in ``negotiated`` (the session's
    current remote description); URIs it does not know get the lowest free ids."""
    ids = extmap_ids(negotiated)
    taken = set(ids.values())
    free = (i for i in ONE_BYTE_IDS if i not in taken)
    lines = []
    for line in offer.splitlines():
        match = EXTMAP.match(line.strip())
        if match:
            uri = match.group(3)
            if uri not in ids:
                ids[uri] = next(free)
            line = f"a=extmap:{ids[uri]}{match.group(2) or ''} {uri}{match.group(4)}"
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"
