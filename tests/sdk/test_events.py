"""``Client.events()`` follows the room's socket: a socket cut mid-stream (a TCP proxy
drops it) is reconnected from the last ``seq`` it yielded, so every event arrives once,
in order, the ones made while it was cut included."""
from __future__ import annotations

import queue
import threading
from urllib.parse import urlsplit

import pytest

import dropon

from .support import DroppingProxy, wait_until

HAND_TYPES = {"HandRaised": "HAND_RAISED", "HandLowered": "HAND_LOWERED"}


def hand_events(client, room_id: str, token: str, n: int) -> None:
    for i in range(n):
        (client.raise_hand if i % 2 == 0 else client.lower_hand)(room_id, token=token)


def stored_hands(client, room_id: str, after: int) -> list[tuple[int, str]]:
    events, _ = client.room_events(room_id, after=after, limit=1000)
    return [(e.seq, HAND_TYPES[e.type]) for e in events if e.type in HAND_TYPES]


@pytest.fixture
def proxy(settings):
    made = DroppingProxy(urlsplit(settings["DROPON_WS_URL"]).port)
    yield made
    made.close()


def test_events_resume_across_a_dropped_socket_missing_and_repeating_nothing(
        client, settings, proxy):
    room = client.create_room()
    ann = client.join_room(room.id, client.create_token(room.id, "ann").token)
    start = client.get_room(room.id).version
    watcher = dropon.Client.from_env({**settings,
                                      "DROPON_WS_URL": f"ws://127.0.0.1:{proxy.port}"})
    stream = watcher.events(room.id, after=start)

    hand_events(client, room.id, ann.token, 6)
    got = [next(stream) for _ in range(3)]
    proxy.drop()  # mid catch-up: three more were sent or on their way
    hand_events(client, room.id, ann.token, 6)  # made while the socket is cut
    got += [next(stream) for _ in range(9)]
    stream.close()

    assert proxy.accepted >= 2, "the socket was never reconnected"
    assert [(e.seq, e.type) for e in got] == stored_hands(client, room.id, start)
    assert all(e.data["participantId"] == ann.participant_id for e in got)


def test_events_without_after_start_from_now(client):
    room = client.create_room()
    bea = client.join_room(room.id, client.create_token(room.id, "bea").token)
    before = client.raise_hand(room.id, bea.token).version
    got = queue.Queue()
    stream = client.events(room.id)
    threading.Thread(target=lambda: got.put(next(stream)), daemon=True).start()
    # the stream starts at the room's version when first read: act until it sees something
    first = wait_until(lambda: client.lower_hand(room.id, token=bea.token) and
                       client.raise_hand(room.id, bea.token) and not got.empty() and got.get(),
                       "an event after the stream started")
    assert first.seq > before and first.type in ("HAND_RAISED", "HAND_LOWERED")
    stream.close()


def test_a_participant_reads_what_it_may(client):
    room = client.create_room()
    cal = client.join_room(room.id, client.create_token(room.id, "cal").token)
    stream = client.events(room.id, after=0, token=cal.token)
    own = next(e for e in stream if e.type == "GROUP_CALL_JOINED")
    assert own.data["callId"] == cal.call_id and own.room_id == room.id
    stream.close()
