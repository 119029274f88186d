"""``dropon rooms``, ``dropon token``, ``dropon events`` and ``dropon replay``."""
from __future__ import annotations

import json

import click

from . import main, parse_json
from .output import Output, common_json

pass_out = click.make_pass_decorator(Output)


def print_room(out: Output, room) -> None:
    """A room's fields and its participants, as tables."""
    out.fields(f"room {room.id}", [(k, room.get(k)) for k in (
        "name", "status", "version", "policy", "metadata", "counts", "mediaNode",
        "createdAt", "openedAt", "closedAt", "closedReason") if room.get(k) is not None])
    if room.participants:
        out.table("participants", ["id", "identity", "role", "state", "hand", "muted"], [
            [p.get("id"), p.get("identity"), p.get("role"), p.get("state", "joined"),
             "raised" if p.get("handRaised") else "", json.dumps(p.get("muted"))]
            for p in room.participants])


@main.group()
def rooms():
    """Create, list, show and close rooms."""


@rooms.command("create")
@click.option("--name", default="room", show_default=True)
@click.option("--policy", help='The policy as JSON, e.g. \'{"stageMode": true}\'.')
@click.option("--stage", is_flag=True, help="stageMode: host, speakers and an audience.")
@click.option("--waiting-room", is_flag=True, help="waitingRoom: hosts admit the others.")
@click.option("--media-mode", type=click.Choice(["SFU", "P2P"]), help="mediaMode.")
@click.option("--max-participants", type=int, help="maxParticipants.")
@click.option("--metadata", help="A JSON object every joined participant reads.")
@click.option("--starts-at", help="ISO-8601 with offset; with --ends-at, a scheduled room.")
@click.option("--ends-at", help="ISO-8601 with offset.")
@common_json
@pass_out
def create_room(out: Output, name, policy, stage, waiting_room, media_mode, max_participants,
                metadata, starts_at, ends_at):
    """Create a room (persistent unless scheduled)."""
    policy = parse_json(policy, "--policy") or {}
    flags = {"stageMode": stage or None, "waitingRoom": waiting_room or None,
             "mediaMode": media_mode, "maxParticipants": max_participants}
    policy.update({k: v for k, v in flags.items() if v is not None})
    room = out.client.create_room(name=name, policy=policy or None, starts_at=starts_at,
                                  ends_at=ends_at, metadata=parse_json(metadata, "--metadata"))
    out.show(room, lambda r: print_room(out, r))


@rooms.command("list")
@click.option("--limit", type=int, help="Rooms fetched per page.")
@common_json
@pass_out
def list_rooms(out: Output, limit):
    """Every room, oldest first."""
    found = list(out.client.list_rooms(limit=limit))
    out.show(found, lambda rs: out.table("rooms", ["id", "name", "status", "joined", "created"], [
        [r.id, r.name, r.status, (r.get("counts") or {}).get("joined"), r.get("createdAt")]
        for r in rs]))


@rooms.command("show")
@click.argument("room_id")
@common_json
@pass_out
def show_room(out: Output, room_id):
    """A room now, with its participants."""
    out.show(out.client.get_room(room_id), lambda r: print_room(out, r))


@rooms.command("close")
@click.argument("room_id")
@click.option("--reason", help="A short slug (default host_ended).")
@common_json
@pass_out
def close_room(out: Output, room_id, reason):
    """Close a room; everyone in it leaves."""
    out.show(out.client.close_room(room_id, reason), lambda r: print_room(out, r))


@main.command("token")
@click.argument("room_id")
@click.argument("identity")
@click.option("--role", type=click.Choice(["host", "speaker", "audience"]), default="speaker",
              show_default=True)
@click.option("--ttl", type=int, help="Seconds the token lives (default 3600).")
@click.option("--replace", is_flag=True, help="The token may take over a live session.")
@common_json
@pass_out
def token(out: Output, room_id, identity, role, ttl, replace):
    """Mint a participant token (printed alone, for $(...))."""
    minted = out.client.create_token(room_id, identity, role, ttl=ttl, replace=replace or None)
    out.show(minted, lambda t: out.line(t.token))


def event_line(event) -> str:
    """``seq<TAB>type<TAB>data`` for people."""
    return f"{event.seq}\t{event.type}\t{json.dumps(event.data, sort_keys=True)}"


@main.command("events")
@click.argument("room_id")
@click.option("--follow", "-f", is_flag=True, help="Keep following the room's socket, live.")
@click.option("--after", type=int, help="Start after this seq (default: all stored events; "
                                        "with --follow, from now).")
@click.option("--token", "participant_token", help="Read as this participant token.")
@common_json
@pass_out
def events(out: Output, room_id, follow, after, participant_token):
    """The room's events, one line each (JSON lines with --json).

    Without --follow, the stored events (their stored names, e.g. ParticipantJoined);
    with it, the socket's live events (GROUP_CALL_JOINED, HAND_RAISED...), resumed across
    reconnects without gaps or repeats, until Ctrl-C.
    """
    client = out.client
    if follow:
        stream = client.events(room_id, after=after, token=participant_token)
    else:
        stream = stored_events(client, room_id, after or 0, participant_token)
    try:
        for event in stream:
            out.json(event) if out.as_json else out.line(event_line(event))
    except KeyboardInterrupt:
        pass


def stored_events(client, room_id: str, after: int, token):
    """The stored events after ``after``, page by page, until the last."""
    while True:
        page, next_after = client.room_events(room_id, after, limit=1000, token=token)
        yield from page
        if next_after is None or next_after <= after:
            return
        after = next_after


@main.command("replay")
@click.argument("room_id")
@click.option("--version", "version", type=int, help="The room after this event seq.")
@click.option("--at", "at", help="The room as it was at this ISO-8601 time (with offset).")
@common_json
@pass_out
def replay(out: Output, room_id, version, at):
    """The room as it was (the audit trail): --version N or --at TIME."""
    if (version is None) == (at is None):
        raise click.UsageError("give --version N or --at TIME")
    out.show(out.client.room_at(room_id, version=version, at=at),
             lambda r: print_room(out, r))
