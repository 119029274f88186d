"""Runs inside the client's network namespace of ``test_media_node_nat``.

A speaker and a listener join a node that is only reachable through its 1:1 NAT
address, then print what they saw as one JSON line.
"""
from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
import time

from media_node_dev.client import WhipClient
from media_node_dev.sources import EncodedAudioSource, EncodedVideoSource
from media_node_dev.tokens import mint_media_token


def wait_for_http(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), 1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


async def main(base: str, secret: str, node_id: str) -> dict:
    def client(participant: str, role: str) -> WhipClient:
        token = mint_media_token(secret, node_id, "r1", participant, role)
        return WhipClient(f"{base}/rooms/r1/whip", token, loopback_only=False)

    speaker = client("alice", "speaker")
    speaker.publish(EncodedVideoSource())
    speaker.publish(EncodedAudioSource())
    await speaker.connect()
    listener = client("bob", "audience")
    listener.receive(audio=1, video=1)
    await listener.connect()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sum(f.kind == "video" for f in listener.frames) < 20:
        await asyncio.sleep(0.1)
    transport = listener.pc.getTransceivers()[0].receiver.transport.transport
    pair = transport.iceGatherer._connection._nominated.get(1)
    result = {
        "video_frames": sum(f.kind == "video" for f in listener.frames),
        "audio_frames": sum(f.kind == "audio" for f in listener.frames),
        "announced": re.findall(r"^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ (\w+)",
                                listener.pc.remoteDescription.sdp, re.M),
        "nominated_remote": list(pair.remote_addr) if pair else None,
        "nominated_remote_type": pair.remote_candidate.type if pair else None,
    }
    for peer in (speaker, listener):
        await peer.close()
    return result


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    wait_for_http(host, port)
    print(json.dumps(asyncio.run(main(f"http://{host}:{port}", sys.argv[3], sys.argv[4]))))
