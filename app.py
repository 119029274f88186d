"""DropOnAir Rooms control plane: HTTP routes and the scheduled tick. Routes only.

Each route authenticates, parses, calls one use case of ``RoomsApplication`` and returns
its result; every failure is mapped in ``chalicelib.api.errors``.
"""
from chalice import Chalice, Rate

from chalicelib import bootstrap
from chalicelib.api import errors, longpoll, openapi, schemas as req
from chalicelib.api.cors import browser_cors
from chalicelib.api.http import Call, created, install
from chalicelib.api.nodes import events_access, nodes
from chalicelib.application.visibility import scoped_view
from chalicelib.nodes import wiring as media

app = Chalice(app_name="dropon-rooms")
app.api.cors = browser_cors()
route = install(app)
app.register_blueprint(nodes)


def rooms():
    return bootstrap.application()


def call() -> Call:
    return Call(bootstrap.settings())


def now():
    return bootstrap.now()


def own_participant_id(room_id: str, identity: str) -> str:
    """The caller's active session in the room (a participant token names no session)."""
    for p in rooms().get_room(room_id)["participants"]:
        if p["identity"] == identity and p["state"] in ("joined", "waiting"):
            return p["id"]
    raise errors.ApiError("participant_not_found", "no active session for this token", 404)


@route("/openapi.json", "GET")
def openapi_document():
    call()
    return openapi.document()


@route("/rooms", "POST")
def create_room():
    c = call()
    c.admin()
    room = rooms().create_room(c.actor, **req.create_room(c.body()), now=now())
    return created(room)


@route("/rooms", "GET")
def list_rooms():
    c = call()
    c.admin()
    items, cursor = rooms().list_rooms(**req.list_rooms(c.query))
    return {"rooms": items, "nextCursor": cursor}


@route("/rooms/{roomId}", "GET")
def get_room(roomId):
    c = call()
    c.in_room(roomId)
    return rooms().read_room(c.actor, roomId, **req.room_version(c.query))


@route("/rooms/{roomId}/policy", "PATCH")
def update_policy(roomId):
    c = call()
    c.in_room(roomId)
    return rooms().update_policy(c.actor, roomId, req.policy_changes(c.body()), now())


@route("/rooms/{roomId}/close", "POST")
def close_room(roomId):
    c = call()
    c.in_room(roomId)
    return rooms().close_room(c.actor, roomId, req.close_reason(c.body()), now())


@route("/rooms/{roomId}/tokens", "POST")
def mint_token(roomId):
    c = call()
    c.admin()
    grant = req.token_grant(c.body(), c.settings)
    rooms().check_token_allowed(roomId, grant["identity"])
    return created(c.mint(roomId, grant))


@route("/rooms/{roomId}/join", "POST")
def join(roomId):
    c = call()
    p = c.participant(roomId)
    req.empty(c.body())
    return media.service().join(c.actor, roomId, identity=p.identity, role=p.role,
                                replace=p.replace, now=now())


@route("/rooms/{roomId}/leave", "POST")
def leave(roomId):
    c = call()
    p = c.participant(roomId)
    reason = req.reason(c.body(), "left")
    room = rooms().leave(c.actor, roomId, own_participant_id(roomId, p.identity), reason, now())
    return scoped_view(room, c.actor)


def _host_control(command: str):
    """A host control on one participant; host or admin, the application decides."""
    def view(roomId, participantId):
        c = call()
        c.in_room(roomId)
        req.empty(c.body())
        return getattr(rooms(), command)(c.actor, roomId, participantId, now())
    view.__name__ = command
    return view


for _command, _path in [("admit", "admit"), ("deny", "deny"), ("promote", "promote"),
                        ("demote", "demote"), ("kick", "kick"), ("lower_hand", "lower-hand")]:
    route(f"/rooms/{{roomId}}/participants/{{participantId}}/{_path}", "POST")(
        _host_control(_command))


@route("/rooms/{roomId}/participants/{participantId}/mute", "POST")
def mute(roomId, participantId):
    c = call()
    c.in_room(roomId)
    return rooms().mute(c.actor, roomId, participantId, **req.mute(c.body()), now=now())


@route("/rooms/{roomId}/hand", "POST")
def raise_hand(roomId):
    c = call()
    c.participant(roomId)
    req.empty(c.body())
    return scoped_view(rooms().raise_hand(c.actor, roomId, now()), c.actor)


@route("/rooms/{roomId}/hand", "DELETE")
def lower_own_hand(roomId):
    c = call()
    c.participant(roomId)
    return scoped_view(rooms().lower_own_hand(c.actor, roomId, now()), c.actor)


@route("/rooms/{roomId}/bans/{identity}", "DELETE")
def lift_ban(roomId, identity):
    c = call()
    c.in_room(roomId)
    return rooms().lift_ban(c.actor, roomId, req.path_identity(identity), now())


@route("/rooms/{roomId}/events", "GET")
def room_events(roomId):
    c = call()
    reader = events_access(c, roomId)
    return longpoll.wait_for_events(rooms(), reader, roomId, c.query, c.settings)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def tick(event):
    """Scheduled opening, endsAt and empty-room auto-close; devstack calls it every few s."""
    done = rooms().tick(now())
    app.log.info("tick: %d rooms changed", len(done or []))
    return {"changed": len(done or [])}
