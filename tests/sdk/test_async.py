"""``dropon.AsyncClient``: the same calls, awaited, against ``make run``'s stack, including
the join over the socket, ``async for`` over pages and over a room's events across a cut
socket, and typed errors."""
from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

import dropon

from .support import DroppingProxy


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))  # a safety net, never a measurement


@pytest.fixture
def proxy(settings):
    made = DroppingProxy(urlsplit(settings["DROPON_WS_URL"]).port)
    yield made
    made.close()


def test_the_async_twin_joins_acts_and_follows_across_a_cut_socket(settings, proxy):
    async def scenario():
        async with dropon.AsyncClient.from_env(settings) as client:
            room = await client.create_room(policy={"stageMode": True, "mediaMode": "P2P"})
            host_token = (await client.create_token(room.id, "ada", "host")).token
            host = await client.join_room(room.id, host_token)
            guest = await client.join_room(
                room.id, (await client.create_token(room.id, "bo", "audience")).token)
            start = (await client.get_room(room.id)).version

            watcher = dropon.AsyncClient.from_env(
                {**settings, "DROPON_WS_URL": f"ws://127.0.0.1:{proxy.port}"})
            stream = watcher.events(room.id, after=start)
            await client.raise_hand(room.id, guest.token)
            await client.promote(room.id, guest.participant_id, token=host.token)
            got = [await anext(stream)]
            proxy.drop()
            await client.mute(room.id, guest.participant_id)
            await client.kick(room.id, guest.participant_id)
            while len(got) < 4:
                got.append(await anext(stream))
            await stream.aclose()
            await watcher.aclose()

            with pytest.raises(dropon.Banned):
                await client.join_room(room.id, guest.token)
            rooms = [r.id async for r in client.list_rooms(limit=1)]
            past = await client.room_at(room.id, version=start)
            closed = await client.close_room(room.id)
            return host, guest, got, rooms, past, closed, room

    host, guest, got, rooms, past, closed, room = run(scenario())
    assert host.call_id and host.media is None  # P2P: no media node
    assert [e.type for e in got] == ["HAND_RAISED", "ROLE_CHANGED", "MUTED", "KICKED"]
    assert len({e.seq for e in got}) == 4 and [e.seq for e in got] == sorted(e.seq for e in got)
    assert proxy.accepted >= 2
    assert room.id in rooms and past.participant("bo")["role"] == "audience"
    assert closed.status == "closed"


def test_the_async_twin_manages_webhooks_destinations_and_recordings(settings):
    async def scenario():
        async with dropon.AsyncClient.from_env(settings) as client:
            hook = await client.create_webhook("http://127.0.0.1:9/none", ["RoomClosed"])
            listed = [w.webhook_id for w in await client.list_webhooks()]
            await client.delete_webhook(hook.webhook_id)
            room = await client.create_room(policy={"mediaMode": "P2P"})
            with pytest.raises(dropon.DestinationNotFound):
                await client.start_sfu_recording(room.id, "no-such-destination")
            recordings = await client.list_recordings(room.id)
            nodes = await client.list_nodes()
            return hook, listed, recordings, nodes

    hook, listed, recordings, nodes = run(scenario())
    assert hook.webhook_id in listed and recordings == [] and isinstance(nodes, list)
