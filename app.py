"""DropOnAir Rooms control plane: HTTP routes and the scheduled tick. Routes only.

Each route authenticates, parses, calls one use case (``RoomsApplication`` or, for media,
``NodeService``, both from ``chalicelib.bootstrap``) and returns its result; every failure
is mapped in ``chalicelib.api.errors``. The real-time socket (``$connect``, ``$default``,
``$disconnect``) and the events table's stream handler hand over to
``chalicelib.api.websocket``.
"""
import os

from chalice import Chalice, Rate

from chalicelib import bootstrap
from chalicelib.api import longpoll, openapi, schemas, websocket
from chalicelib.api.cors import browser_cors
from chalicelib.api.http import created, current_request, install
from chalicelib.api.ice_servers import join_answer
from chalicelib.api.destinations import destinations
from chalicelib.api.health import health
from chalicelib.api.nodes import events_access, nodes
from chalicelib.api.recordings import recordings
from chalicelib.api.webhooks import webhooks
from chalicelib.telemetry import metrics
from chalicelib.telemetry.logs import bound_contextvars, configure_logging

configure_logging()  # one JSON object per line, secrets hidden (docs/runbook.md)
app = Chalice(app_name="dropon-rooms", configure_logs=False)  # app.log goes to the root
app.experimental_feature_flags.update(["WEBSOCKETS"])  # Chalice's WebSocket API
app.api.cors = browser_cors()
route = install(app)
app.register_blueprint(nodes)
app.register_blueprint(destinations)
app.register_blueprint(recordings)
app.register_blueprint(webhooks)
app.register_blueprint(health)


@app.middleware("all")
def lambda_request_id(event, get_response):
    """Lines logged outside an HTTP request (tick, webhooks, sockets, stream) carry the
    Lambda invocation's request id."""
    context = getattr(app, "lambda_context", None)
    request_id = getattr(context, "aws_request_id", None)
    if not request_id:
        return get_response(event)
    with bound_contextvars(requestId=request_id):
        return get_response(event)

# the deployed stack replaces this with the events table's stream (infra/template.py)
EVENTS_STREAM_ARN = os.environ.get(
    "DROPON_EVENTS_STREAM_ARN",
    "arn:aws:dynamodb:us-east-1:000000000000:table/dropon-rooms-events/stream/local")


def rooms():
    return bootstrap.application()


def now():
    return bootstrap.now()


@route("/openapi.json", "GET")
def openapi_document():
    current_request()
    return openapi.document()


@route("/rooms", "POST")
def create_room():
    request = current_request()
    request.admin()
    room = rooms().create_room(request.actor, **schemas.create_room(request.body()), now=now())
    return created(room)


@route("/rooms", "GET")
def list_rooms():
    request = current_request()
    request.admin()
    items, cursor = rooms().list_rooms(**schemas.list_rooms(request.query))
    return {"rooms": items, "nextCursor": cursor}


@route("/rooms/{roomId}", "GET")
def get_room(roomId):
    request = current_request()
    request.in_room(roomId)
    return rooms().read_room(request.actor, roomId, **schemas.room_version(request.query))


@route("/rooms/{roomId}/policy", "PATCH")
def update_policy(roomId):
    request = current_request()
    request.in_room(roomId)
    changes = schemas.policy_changes(request.body())
    return rooms().update_policy(request.actor, roomId, changes, now())


@route("/rooms/{roomId}/close", "POST")
def close_room(roomId):
    request = current_request()
    request.in_room(roomId)
    return rooms().close_room(request.actor, roomId, schemas.close_reason(request.body()), now())


@route("/rooms/{roomId}/tokens", "POST")
def mint_token(roomId):
    request = current_request()
    request.admin()
    grant = schemas.token_grant(request.body(), request.settings)
    rooms().check_token_allowed(roomId, grant["identity"])
    return created(request.mint(roomId, grant))


@route("/rooms/{roomId}/join", "POST")
def join(roomId):
    request = current_request()
    caller = request.participant(roomId)
    schemas.empty(request.body())
    joined = bootstrap.nodes().join(request.actor, roomId, identity=caller.identity,
                                    role=caller.role, replace=caller.replace, now=now())
    return join_answer(joined, request.settings)


@route("/rooms/{roomId}/leave", "POST")
def leave(roomId):
    request = current_request()
    request.participant(roomId)
    reason = schemas.reason(request.body(), "left")
    return rooms().leave_own_session(request.actor, roomId, reason, now())


def _host_control(command: str):
    """A host control on one participant; host or admin, the application decides."""
    def view(roomId, participantId):
        request = current_request()
        request.in_room(roomId)
        schemas.empty(request.body())
        return getattr(rooms(), command)(request.actor, roomId, participantId, now())
    view.__name__ = command
    return view


for _command, _path in [("admit", "admit"), ("deny", "deny"), ("promote", "promote"),
                        ("demote", "demote"), ("kick", "kick"), ("lower_hand", "lower-hand")]:
    route(f"/rooms/{{roomId}}/participants/{{participantId}}/{_path}", "POST")(
        _host_control(_command))


@route("/rooms/{roomId}/participants/{participantId}/mute", "POST")
def mute(roomId, participantId):
    request = current_request()
    request.in_room(roomId)
    muting = schemas.mute(request.body())
    return rooms().mute(request.actor, roomId, participantId, **muting, now=now())


@route("/rooms/{roomId}/hand", "POST")
def raise_hand(roomId):
    request = current_request()
    request.participant(roomId)
    schemas.empty(request.body())
    return rooms().raise_hand(request.actor, roomId, now())


@route("/rooms/{roomId}/hand", "DELETE")
def lower_own_hand(roomId):
    request = current_request()
    request.participant(roomId)
    return rooms().lower_own_hand(request.actor, roomId, now())


@route("/rooms/{roomId}/bans/{identity}", "DELETE")
def lift_ban(roomId, identity):
    request = current_request()
    request.in_room(roomId)
    return rooms().lift_ban(request.actor, roomId, schemas.path_identity(identity), now())


@route("/rooms/{roomId}/events", "GET")
def room_events(roomId):
    request = current_request()
    reader = events_access(request, roomId)
    return longpoll.wait_for_events(rooms(), reader, roomId, request.query, request.settings)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def tick(event):
    """Scheduled opening, endsAt and empty-room auto-close, recordings of lost nodes;
    devstack calls it every few s."""
    done = bootstrap.nodes().tick(now(), bootstrap.settings().recording_node_lost_after)
    # what lost nodes left in the customers' buckets: listed, unfinished uploads aborted
    # (those the tick just failed, and the retries that are due)
    swept = bootstrap.recordings().sweep_leftovers(now())
    app.log.info("tick: %d rooms changed, %d recordings swept", len(done or []), len(swept))
    return {"changed": len(done or [])}


@app.schedule(Rate(1, unit=Rate.MINUTES))
def deliver_webhooks(event):
    """Follow the rooms' log and send due webhooks for most of a minute (docs/webhooks.md);
    locally ``devstack.webhooks`` calls this again and again in its own process."""
    bootstrap.webhook_deliverer().run()
    return {"ok": True}


@app.on_ws_connect()
def socket_connect(event):
    return websocket.connect(event)


@app.on_ws_message()
def socket_message(event):
    websocket.message(event, websocket.sender(app.websocket_api))


@app.on_ws_disconnect()
def socket_disconnect(event):
    websocket.disconnect(event)


@app.on_dynamodb_record(stream_arn=EVENTS_STREAM_ARN)
def room_events_stream(event):
    """Each new event of a room reaches its sockets (``post_to_connection``)."""
    if os.environ.get("DROPON_WS_DOMAIN"):  # the WebSocket API's domain and stage
        app.websocket_api.configure(os.environ["DROPON_WS_DOMAIN"],
                                    os.environ.get("DROPON_WS_STAGE", "api"))
    sent = websocket.stream(event, websocket.sender(app.websocket_api))
    metrics.emit(metrics.EVENTS_FANNED_OUT, sent)
    app.log.info("stream: %d messages sent", sent)
