"""The private parts of aiortc, aioice and pylibsrtp the node relies on are still there.

Each module of media_node/internals/ lists what it relies on (``RELIED_ON``). This
checks every name on live objects of the installed libraries, which must be the
versions requirements.txt pins, and fails naming the attribute, the library's version
and the module to adapt. It also checks that no other module of the node reaches a
private attribute itself.
"""
from __future__ import annotations

import ast
import asyncio
import importlib.metadata
import inspect
import os
from pathlib import Path

import aioice.ice
import aiortc.jitterbuffer
import pylibsrtp
import pytest
from aiortc import RTCPeerConnection
from pylibsrtp import _binding

from media_node.internals import aioice_internals, aiortc_internals, pylibsrtp_internals

ROOT = Path(__file__).resolve().parents[2]
INTERNALS = {"aiortc": aiortc_internals, "aioice": aioice_internals,
             "pylibsrtp": pylibsrtp_internals}


def pinned(library: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name, _, version = line.split("#")[0].strip().partition("==")
        if name.lower() == library:
            return version
    raise AssertionError(f"requirements.txt does not pin {library}")


def live_objects() -> dict[str, object]:
    """One real object per owner ``RELIED_ON`` names (no socket is opened)."""
    async def build() -> dict[str, object]:
        pc = RTCPeerConnection()
        transceiver = pc.addTransceiver("video")
        dtls = transceiver.sender.transport
        objects = {
            "RTCPeerConnection": pc, "RTCRtpTransceiver": transceiver,
            "RTCRtpSender": transceiver.sender, "RTCRtpReceiver": transceiver.receiver,
            "RTCDtlsTransport": dtls, "RTCIceTransport": dtls.transport,
            "RTCIceGatherer": dtls.transport.iceGatherer,
            "aioice.Connection": dtls.transport.iceGatherer._connection,
        }
        await pc.close()
        return objects

    objects = asyncio.run(build())
    objects.update({
        "aioice.ice": aioice.ice, "pylibsrtp._binding": _binding,
        "pylibsrtp._binding.lib": _binding.lib,
        "pylibsrtp.Session": pylibsrtp.Session(pylibsrtp.Policy(
            key=os.urandom(30), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)),
    })
    return objects


def has(objects: dict[str, object], owner: str, attribute: str) -> bool:
    if owner == "JitterBuffer":  # an attribute aiortc sets on packets, not on a class
        return f".{attribute}" in inspect.getsource(aiortc.jitterbuffer)
    return hasattr(objects[owner], attribute)


@pytest.mark.parametrize("library", sorted(INTERNALS))
def test_the_installed_version_is_the_pinned_one(library):
    installed = importlib.metadata.version(library)
    assert installed == pinned(library), (
        f"{library} {installed} is installed but requirements.txt pins {pinned(library)}: "
        f"media_node/internals/{library}_internals.py is checked against the pin")


@pytest.mark.parametrize("library", sorted(INTERNALS))
def test_every_private_attribute_relied_on_exists(library):
    objects = live_objects()
    module = INTERNALS[library]
    missing = [f"{owner}.{attribute}" for owner, attribute in module.RELIED_ON
               if not has(objects, owner, attribute)]
    if missing:
        pytest.fail(
            f"{library} {importlib.metadata.version(library)} (requirements.txt pins "
            f"{library}=={pinned(library)}) no longer has {', '.join(missing)}, which "
            f"media_node/internals/{library}_internals.py relies on: adapt that module "
            f"to this version, or keep the pin", pytrace=False)


# the node's own marks on library objects, and asyncio's socket (stdlib, not pinned)
ALLOWED = {"_sock"}


def private_uses(path: Path) -> list[str]:
    """``x._name`` and ``getattr(x, "_name")`` in ``path``, where x is not self or cls."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute):
            name, owner = node.attr, node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls", "_fanout"):
                continue
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in (
                "getattr", "setattr", "hasattr") and len(node.args) > 1 \
                and isinstance(node.args[1], ast.Constant):
            name = str(node.args[1].value)
        else:
            continue
        dunder = name.startswith("__") and name.endswith("__")
        if name.startswith("_") and not dunder and not name.startswith("_dropon_") \
                and name not in ALLOWED:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    return found


def test_no_other_module_of_the_node_reaches_a_private_attribute():
    found = [use for path in sorted((ROOT / "media_node").rglob("*.py"))
             if path.parent.name != "internals" for use in private_uses(path)]
    assert found == [], "use media_node/internals/ instead:\n" + "\n".join(found)
