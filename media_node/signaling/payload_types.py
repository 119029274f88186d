"""Keep RTP payload types stable across node-driven renegotiations.

aiortc's ``createOffer`` numbers codecs from its own table every time (Opus 96, VP8 97,
...), while an m-line the subscriber offered first carries the subscriber's numbers
(Chromium: Opus 111, VP8 96). Senders and receivers that already run keep the number
they started with: the direct path's writers build their RTP header once, and aiortc
registers a receiver's payload types only when it starts. After a renumbered re-offer
a browser accepts the new numbers and drops packets that carry the old ones (seen
with Chromium: a reused m-line decoded nothing). ``align_payload_types`` renumbers an
offer with the numbers the session already negotiated, per m-line first, then
session-wide, and gives codecs new to the session unused dynamic numbers, so that
one number means one codec in the whole BUNDLE group.
"""
from __future__ import annotations

import re

RTPMAP = re.compile(r"^a=rtpmap:(\d+) (\S+)")
FMTP = re.compile(r"^a=fmtp:(\d+) (.*)$")
PT_LINE = re.compile(r"^a=(rtpmap|fmtp|rtcp-fb):(\d+)(.*)$")
DYNAMIC = range(96, 128)
_IDENTITY = ("profile-level-id", "packetization-mode")  # H.264 entries differ by these


def _sections(sdp: str) -> list[list[str]]:
    sections: list[list[str]] = [[]]
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    return sections


def _params(fmtp: str) -> dict[str, str]:
    pairs = (p.strip().split("=", 1) for p in fmtp.split(";") if "=" in p)
    return {k.lower(): v for k, v in pairs}


def _codec_keys(section: list[str]) -> dict[int, tuple]:
    """Payload type -> what identifies its codec; RTX by the codec it repairs."""
    names, fmtps = {}, {}
    for line in section:
        if match := RTPMAP.match(line):
            names[int(match.group(1))] = match.group(2).lower()
        elif match := FMTP.match(line):
            fmtps[int(match.group(1))] = _params(match.group(2))
    keys: dict[int, tuple] = {}
    for pt, name in names.items():
        if not name.startswith("rtx/"):
            params = fmtps.get(pt, {})
            keys[pt] = (name, *(params.get(k) for k in _IDENTITY))
    for pt, name in names.items():
        apt = fmtps.get(pt, {}).get("apt", "")
        if name.startswith("rtx/") and apt.isdigit() and int(apt) in keys:
            keys[pt] = ("rtx", keys[int(apt)])
    return keys


def _mid(section: list[str]) -> str | None:
    return next((line[6:] for line in section if line.startswith("a=mid:")), None)


def align_payload_types(offer: str, negotiated: str) -> str:
    """``offer`` with each codec numbered as in ``negotiated`` (the session's current
    remote description); codecs it does not know get unused dynamic numbers."""
    by_mid: dict[str | None, dict[tuple, int]] = {}
    session: dict[tuple, int] = {}
    taken: set[int] = set()
    for section in _sections(negotiated)[1:]:
        keys = _codec_keys(section)
        by_mid[_mid(section)] = {key: pt for pt, key in keys.items()}
        for pt, key in keys.items():
            session.setdefault(key, pt)
        taken |= set(keys)
    out = []
    for section in _sections(offer):
        keys = _codec_keys(section) if section and section[0].startswith("m=") else {}
        if not keys:
            out += section
            continue
        known = by_mid.get(_mid(section), {})
        renumber: dict[int, int] = {}
        for pt, key in sorted(keys.items(), key=lambda item: item[1][0] == "rtx"):
            if pt not in DYNAMIC:  # a static number means the same codec everywhere
                renumber[pt] = pt
                continue
            new = known.get(key, session.get(key))
            if new is None or new in renumber.values():
                new = next(p for p in DYNAMIC if p not in taken and p not in renumber.values())
                session[key] = new
                taken.add(new)
            renumber[pt] = new
        out += [_renumber(line, renumber) for line in section]
    return "\r\n".join(out) + "\r\n"


def _renumber(line: str, renumber: dict[int, int]) -> str:
    def pt(value: str) -> str:
        return str(renumber.get(int(value), value)) if value.isdigit() else value

    if line.startswith("m="):
        head = line.split(" ")
        return " ".join(head[:3] + [pt(p) for p in head[3:]])
    match = PT_LINE.match(line)
    if not match:
        return line
    rest = match.group(3)
    if match.group(1) == "fmtp":
        rest = re.sub(r"\bapt=(\d+)", lambda m: f"apt={pt(m.group(1))}", rest)
    return f"a={match.group(1)}:{pt(match.group(2))}{rest}"
