"""Every call of ``dropon.Client`` against ``make run``'s stack, told as a town hall: a
host runs a stage room with a waiting room, lets people in, brings one on stage, mutes,
kicks and forgives; the room's history replays at any version; recordings, destinations
and webhooks are managed, and a real delivery verifies with ``dropon.webhooks.verify``."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

import dropon

from .support import wait_for_node, wait_until


def joined(client, room_id: str, identity: str, role: str = "speaker"):
    return client.join_room(room_id, client.create_token(room_id, identity, role).token)


def test_a_town_hall_with_a_waiting_room_and_a_stage(client):
    wait_for_node(client)
    room = client.create_room(name="town hall", policy={"stageMode": True,
                                                        "waitingRoom": True},
                              metadata={"agenda": "q3"})
    assert room.status == "scheduled" and room.policy["waitingRoom"] is True
    host = joined(client, room.id, "ada", "host")
    assert host.status == "joined" and host.call_id and host.media is not None

    # a knock, then the host admits from its own token while the knocker waits
    knock_token = client.create_token(room.id, "bo", "audience", ttl=600).token
    waited = {}
    knocker = threading.Thread(target=lambda: waited.update(call=client.join_room(
        room.id, knock_token, wait_for_admission=True)))
    knocker.start()
    waiting = wait_until(lambda: [p for p in client.get_room(room.id).participants
                                  if p["identity"] == "bo" and p["state"] == "waiting"],
                         "bo to knock")[0]
    client.admit(room.id, waiting["id"], token=host.token)
    knocker.join(60)
    bo = waited["call"]
    assert bo.status == "joined" and bo.call_id and bo.event["data"]["admitted"] is True
    assert bo.participant_id == waiting["id"] and bo.media is not None

    # a second knocker is turned away, without waiting for the answer
    cy = joined(client, room.id, "cy", "audience")
    assert cy.status == "waiting" and cy.call_id is None
    client.deny(room.id, cy.participant_id)

    # the stage
    assert client.raise_hand(room.id, bo.token).participant("bo")["handRaised"] is True
    assert client.lower_hand(room.id, token=bo.token).participant("bo")["handRaised"] is False
    client.raise_hand(room.id, bo.token)
    promoted = client.promote(room.id, bo.participant_id, token=host.token)
    assert promoted.participant("bo")["role"] == "speaker"
    muted = client.mute(room.id, bo.participant_id, audio=True, video=True)
    assert muted.participant("bo")["muted"] == {"audio": True, "video": True}
    unmuted = client.mute(room.id, bo.participant_id, video=True, muted=False)
    assert unmuted.participant("bo")["muted"] == {"audio": False, "video": False}
    client.demote(room.id, bo.participant_id)
    client.raise_hand(room.id, bo.token)
    assert client.lower_hand(room.id, bo.participant_id).participant("bo")["handRaised"] is False
    before_kick = client.get_room(room.id).version
    kicked_at = datetime.now(timezone.utc)

    # kicked, banned, forgiven, back, gone
    client.kick(room.id, bo.participant_id, token=host.token)
    with pytest.raises(dropon.Banned):
        client.create_token(room.id, "bo", "audience")
    client.lift_ban(room.id, "bo")
    again = joined(client, room.id, "bo", "audience")
    assert again.status == "waiting"
    client.admit(room.id, again.participant_id)
    left = client.leave_room(room.id, again.token)
    assert left.id == room.id

    # the audit trail
    past = client.room_at(room.id, version=before_kick)
    assert past.version == before_kick and past.participant("bo")["state"] == "joined"
    assert client.room_at(room.id, at=kicked_at).participant("bo")["state"] == "joined"
    events, next_after = client.room_events(room.id, after=0)
    types = [e.type for e in events]
    assert types[0] == "RoomCreated" and "ParticipantKicked" in types and "BanLifted" in types
    assert next_after == events[-1].seq

    changed = client.update_policy(room.id, waitingRoom=False)
    assert changed.policy["waitingRoom"] is False
    closed = client.close_room(room.id, "done", token=host.token)
    assert (closed.status, closed.get("closedReason")) == ("closed", "done")


def test_rooms_list_page_by_page_and_tokens_say_what_they_grant(client):
    made = [client.create_room(name=f"page-{i}").id for i in range(3)]
    listed = [r.id for r in client.list_rooms(limit=2)]
    assert listed[-3:] == made  # oldest first, past several pages
    minted = client.create_token(made[0], "dee", "host", ttl=60, replace=True)
    assert (minted.room_id, minted.identity, minted.role) == (made[0], "dee", "host")
    assert minted.expires_at
    assert client.get_room(made[0]).name == "page-0"
    assert dropon.Client.from_env({"DROPON_API_URL": client.api_url,
                                   "DROPON_API_KEY": "k"}).api_url == client.api_url


def test_a_host_records_into_a_destination_that_it_verified(client, s3_endpoint):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = f"sdk-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    destination = client.create_destination(
        "s3", bucket=bucket, region="us-east-1", endpoint=s3_endpoint, forcePathStyle=True,
        credentials={"accessKeyId": "testing", "secretAccessKey": "testing"})
    assert destination.type == "s3" and destination.secret_fields == ["credentials"]
    assert "secretAccessKey" not in str(destination.raw)
    assert client.verify_destination(destination.destination_id) == {"ok": True}
    assert destination.destination_id in [d.destination_id for d in client.list_destinations()]
    assert client.get_destination(destination.destination_id).get("bucket") == bucket

    wait_for_node(client)
    room = client.create_room(policy={"mediaMode": "SFU"})
    host = joined(client, room.id, "eve", "host")
    started = client.start_sfu_recording(room.id, destination.destination_id,
                                         token=host.token)
    assert started.status == "starting"
    with pytest.raises(dropon.RecordingInProgress):
        client.start_sfu_recording(room.id, destination.destination_id)
    assert [r.recording_id for r in client.list_recordings(room.id)] == [started.recording_id]
    assert client.get_recording(room.id, started.recording_id).destination_id == \
        destination.destination_id
    stopped = client.stop_recording(room.id, started.recording_id)
    assert stopped.status not in ("starting", "recording")
    with pytest.raises(dropon.InvalidRecordingState):
        client.retry_upload(room.id, started.recording_id)  # only a failed one uploads again

    assert client.delete_destination(destination.destination_id)["deleted"] is True
    with pytest.raises(dropon.DestinationNotFound):
        client.get_destination(destination.destination_id)


class Receiver(BaseHTTPRequestHandler):
    got: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.got.append((self.headers["DropOn-Signature"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_webhook_delivery_verifies_with_the_sdk(client):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        room = client.create_room()
        hook = client.create_webhook(f"http://127.0.0.1:{server.server_port}/in",
                                     ["HandRaised"], room_id=room.id)
        assert hook.secret.startswith("whsec_") and hook.rooms == [room.id]
        ann = joined(client, room.id, "ann")
        client.raise_hand(room.id, ann.token)
        header, body = wait_until(lambda: next(((h, b) for h, b in Receiver.got
                                                if room.id.encode() in b), None), "a delivery")
        event = dropon.webhooks.verify(body, header, hook.secret)
        assert (event["type"], event["roomId"]) == ("HandRaised", room.id)
        with pytest.raises(dropon.webhooks.SignatureError):
            dropon.webhooks.verify(body + b" ", header, hook.secret)

        assert client.get_webhook(hook.webhook_id).secret is None
        assert hook.webhook_id in [w.webhook_id for w in client.list_webhooks()]
        delivered = wait_until(lambda: client.webhook_deliveries(hook.webhook_id, limit=5),
                               "the delivery's record")
        assert delivered[0]["outcome"] == "delivered"
        rotated = client.rotate_webhook_secret(hook.webhook_id, keep_previous_for=60)
        assert rotated["secret"] != hook.secret
        assert client.delete_webhook(hook.webhook_id).status == "deleted"
    finally:
        server.shutdown()
        server.server_close()
