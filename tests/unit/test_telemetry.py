"""Both sides' log lines and the control plane's health and node placement, without I/O:
one JSON object a line, secrets hidden whatever carries them; a draining node gets no
room and its rooms move; ``GET /health`` says only ok or not."""
from __future__ import annotations

import io
import json
import logging
import sys
import threading
from datetime import datetime, timezone

import pytest
import structlog
from chalice.test import Client
from eventsourcing.persistence import IntegrityError

from chalicelib import bootstrap
from chalicelib.application import Actor, RoomsApplication
from chalicelib.config import Settings
from chalicelib.domain.nodes import NodeRecord
from chalicelib.persistence.nodes import InMemoryNodeRegistry
from chalicelib.telemetry.logs import configure_logging as configure_control_plane
from media_node.telemetry.logs import configure_logging as configure_node

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJlLXZhbHVl"
FERNET = "gAAAAABnX2Qsealedcredentials_-0123456789abcdef=="
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["control plane", "node"])
def lines(request):
    """The JSON lines the side writes while the test logs (root handlers restored)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    if request.param == "node":
        configure_node("node-7", stream=stream)
    else:
        configure_control_plane(stream, force=True)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.handlers, root.level = saved
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def test_a_line_is_one_json_object_with_its_context(lines):
    with structlog.contextvars.bound_contextvars(roomId="r-1", requestId="q-1"):
        logging.getLogger("some.module").info("joined %s", "ada")
    record, = lines()
    assert {k: record[k] for k in ("level", "message", "roomId", "requestId", "logger")} == {
        "level": "info", "message": "joined ada", "roomId": "r-1", "requestId": "q-1",
        "logger": "some.module"}
    assert record["time"].endswith("Z")


def test_secrets_are_hidden_in_fields_text_and_tracebacks(lines):
    log = logging.getLogger("leaky")
    log.info("got Authorization: Bearer %s and %s", JWT, FERNET)
    log.info("url https://b.example/o?X-Amz-Signature=%s&sig=%s&a=1", SECRET, SECRET)
    log.info("DropOn-Signature: t=1700000000,v1=%s", SECRET)
    structlog.get_logger("leaky").info("destination", credentials={"secretAccessKey": SECRET},
                                       token=JWT, node_secret=SECRET, bucket="kept")
    try:
        raise ValueError(f"refused token={SECRET}")
    except ValueError:
        log.exception("failed")
    text = json.dumps(lines())
    assert SECRET not in text and JWT not in text and FERNET not in text
    assert '"bucket": "kept"' in text and "a=1" in text


def test_both_sides_hide_the_same_secrets():
    from chalicelib.telemetry import logs as control_plane
    from media_node.telemetry import logs as node
    assert node.SECRET_FIELD == control_plane.SECRET_FIELD
    assert node.SECRET_TEXT == control_plane.SECRET_TEXT


@pytest.fixture
def nodes():
    registry = InMemoryNodeRegistry()
    application = RoomsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    bootstrap.configure(settings=Settings(node_dead_after=15.0), application=application,
                        node_registry=registry, clock=lambda: T0)
    yield bootstrap.nodes()
    bootstrap.reset()
    application.close()


def beat(nodes, node_id, draining=False):
    t = T0.timestamp()
    nodes.heartbeat(node_id, {"url": f"http://{node_id}", "rooms": 0, "participants": 0,
                              "streams": 0, "cpu": 0.0 if node_id == "a" else 0.5,
                              "capacity": 64, "draining": draining}, T0)
    assert nodes.registry.get(node_id) == NodeRecord(node_id, f"http://{node_id}", 0, 0, 0,
                                                     0.0 if node_id == "a" else 0.5, 64, t, t,
                                                     draining)


def test_a_draining_node_gets_no_room_and_its_rooms_move(nodes):
    beat(nodes, "a")
    room = nodes.rooms.create_room(Actor("api_key", "k"), name="r", persistent=True,
                                   policy={"mediaMode": "SFU"}, now=T0)["id"]
    first = nodes.join(Actor("participant", "ann"), room, identity="ann", role="speaker",
                       replace=False, now=T0)
    assert first["media"].node_id == "a"
    beat(nodes, "b")
    beat(nodes, "a", draining=True)
    assert [n["draining"] for n in nodes.list_nodes(T0)] == [True, False]
    assert nodes.media(room, "ann", T0).node_id == "b"  # the room moved with her
    other = nodes.rooms.create_room(Actor("api_key", "k"), name="s", persistent=True,
                                    policy={"mediaMode": "SFU"}, now=T0)["id"]
    joined = nodes.join(Actor("participant", "bo"), other, identity="bo", role="speaker",
                        replace=False, now=T0)
    assert joined["media"].node_id == "b"  # although a is the less loaded


def test_health_says_ok_or_not_and_nothing_else(nodes, monkeypatch):
    from app import app
    with Client(app, project_dir="/nonexistent") as client:
        ok = client.http.get("/health")
        monkeypatch.setattr(nodes.rooms.recorder, "select_events",
                            lambda *a, **k: (_ for _ in ()).throw(OSError("table gone")))
        down = client.http.get("/health")
    assert (ok.status_code, json.loads(ok.body)) == (200, {"ok": True})
    assert (down.status_code, json.loads(down.body)) == (503, {"ok": False})


class LosingOnce(RoomsApplication):
    """Its first save of a command loses to another writer."""

    lost = 0

    def save(self, *objs, **kwargs):
        if self.lost == 0:
            self.lost += 1
            raise IntegrityError("another writer saved first")
        return super().save(*objs, **kwargs)


def test_a_conflict_and_its_retry_are_counted(capsys):
    rooms = LosingOnce(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    rooms.lost = 1  # the room's creation saves
    room = rooms.create_room(Actor("api_key", "k"), name="r", persistent=True, now=T0)["id"]
    rooms.lost = 0
    capsys.readouterr()
    rooms.join(Actor("participant", "ann"), room, identity="ann", role="speaker", now=T0)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines()
           if line.startswith('{"_aws"')]
    names = [m["Name"] for r in emf for d in r["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    assert names == ["Conflicts", "Retries"]
    assert all(d["Namespace"] == "DropOn" and d["Dimensions"] == [[]]
               for r in emf for d in r["_aws"]["CloudWatchMetrics"])
    rooms.close()


def test_every_dimension_set_carries_the_stage_when_one_is_set(capsys, monkeypatch):
    from chalicelib.telemetry import metrics
    monkeypatch.setenv("DROPON_STAGE", "prod")
    capsys.readouterr()
    metrics.emit(metrics.CONFLICTS)
    metrics.emit(metrics.JOINS_REFUSED, Code="room_full")
    total, refused = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert total["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stage"]]
    assert refused["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stage"], ["Stage", "Code"]]
    assert total["Stage"] == refused["Stage"] == "prod" and refused["Code"] == "room_full"


def test_metrics_from_many_threads_stay_one_json_object_a_line(capsys):
    """The local API serves each connection on a thread: two data points written at once
    once ran together on one line, which CloudWatch Logs would not read as EMF."""
    from chalicelib.telemetry import metrics

    def burst() -> None:
        for _ in range(300):
            metrics.emit(metrics.CONFLICTS, Command="join")

    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can
    try:
        threads = [threading.Thread(target=burst) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switching)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2400
    assert all(json.loads(line)["Conflicts"] == [1.0] for line in lines)
