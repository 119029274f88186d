"""The API's refusals arrive as typed errors carrying ``code``, ``message`` and
``status``, whether the HTTP API or the room's socket refused."""
from __future__ import annotations

import time

import jwt
import pytest

import dropon


def expired_token(settings, room_id: str, identity: str) -> str:
    """A participant token signed with the API secret that expired a minute ago (the
    server's leeway is 5 s), as one minted an hour before would be."""
    now = int(time.time())
    return jwt.encode({"iss": settings["DROPON_API_KEY"], "sub": identity, "room": room_id,
                       "role": "speaker", "nbf": now - 3600, "exp": now - 60},
                      settings["DROPON_API_SECRET"], algorithm="HS256")


def test_a_full_room_refuses_the_join_as_room_full(client):
    room = client.create_room(policy={"maxParticipants": 1, "mediaMode": "P2P"})
    client.join_room(room.id, client.create_token(room.id, "first", "host").token)
    with pytest.raises(dropon.RoomFull) as refused:
        client.join_room(room.id, client.create_token(room.id, "second").token)
    error = refused.value
    assert (error.code, error.status) == ("room_full", 409) and error.message
    assert isinstance(error, dropon.Conflict) and isinstance(error, dropon.DropOnError)
    assert str(error).startswith("room_full: ")


def test_a_kicked_identity_is_banned_on_the_socket_and_over_http(client):
    room = client.create_room()
    token = client.create_token(room.id, "mal", ttl=600).token
    call = client.join_room(room.id, token)
    client.kick(room.id, call.participant_id)
    with pytest.raises(dropon.Banned) as on_socket:
        client.join_room(room.id, token)
    assert (on_socket.value.code, on_socket.value.status) == ("banned", 403)
    with pytest.raises(dropon.Banned) as over_http:
        client.create_token(room.id, "mal")
    assert over_http.value.status == 403 and isinstance(over_http.value, dropon.PermissionDenied)


def test_an_expired_token_is_token_expired_everywhere(client, settings):
    room = client.create_room()
    stale = expired_token(settings, room.id, "old")
    with pytest.raises(dropon.TokenExpired) as joining:
        client.join_room(room.id, stale)
    assert (joining.value.code, joining.value.status) == ("token_expired", 401)
    with pytest.raises(dropon.TokenExpired):
        client.raise_hand(room.id, stale)
    with pytest.raises(dropon.TokenExpired):
        next(iter(client.events(room.id, after=0, token=stale)))


def test_the_other_refusals_name_their_codes(client):
    with pytest.raises(dropon.RoomNotFound) as missing:
        client.get_room("no-such-room")
    assert missing.value.status == 404
    room = client.create_room(policy={"hostRequired": True})
    speaker = client.create_token(room.id, "sam").token
    with pytest.raises(dropon.HostRequired):
        client.join_room(room.id, speaker)
    host = client.join_room(room.id, client.create_token(room.id, "hal", "host").token)
    sam = client.join_room(room.id, speaker)
    with pytest.raises(dropon.NotAHost):
        client.kick(room.id, host.participant_id, token=sam.token)
    with pytest.raises(dropon.NotAHost):
        client.room_at(room.id, version=1, token=sam.token)
    other = client.create_room()
    with pytest.raises(dropon.WrongRoom):
        client.raise_hand(other.id, sam.token)
    with pytest.raises(dropon.InvalidPolicy) as bad:
        client.update_policy(room.id, maxParticipants=0)
    assert bad.value.status == 422
    with pytest.raises(dropon.ParticipantNotFound):
        client.admit(room.id, "nobody")
    with pytest.raises(dropon.VersionNotFound):
        client.room_at(room.id, version=10_000)
    unsigned = dropon.Client(client.api_url, api_key="nobody", api_secret="x" * 32)
    with pytest.raises(dropon.AuthenticationError) as unknown:
        unsigned.list_nodes()
    assert (unknown.value.code, unknown.value.status) == ("unauthorized", 401)
