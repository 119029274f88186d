"""The web app on ``make run``'s real stack, two Chromiums at once (fake camera and mic).

The story: a host opens the web app, creates a stage room with a waiting room and makes
an invite link. The audience member opens it, knocks, is admitted, raises a hand and is
promoted; the host's page decodes their video (``getStats``). The host mutes their audio
and the host's page stops receiving it. The host records the call into a moto S3 bucket
and the files, with sizes and checksums, appear in the page. The host moves the member
back to the audience (their camera closes), then kicks them: their page says so, and
again after a reload. Screenshots of both pages go to ``.artifacts/``. Beside the story:
a socket blip, a full room, an ended room, a reload, and the web server's dev routes.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import boto3
import pytest

from chalicelib.api.auth import mint_admin_token
from devstack.process import ROOT, free_port
from tests.e2e.system import wait_until
from tests.e2e.web_pages import chromium, inbound, joined, page_wait, wait_decoding

pytestmark = [pytest.mark.browser, pytest.mark.media]
playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
ARTIFACTS = ROOT / ".artifacts"
BUCKET = "web-recordings"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """``python -m devstack.run`` on free ports with its data in a temporary folder."""
    data = tmp_path_factory.mktemp("web-stack")
    ports = {name: free_port() for name in ("API", "WS", "NODE", "WEB")}
    env = {**os.environ, "DROPON_DATA_DIR": str(data), "DROPON_TICK_SECONDS": "1",
           "DROPON_HEARTBEAT_INTERVAL": "1",
           **{f"DROPON_{name}_PORT": str(port) for name, port in ports.items()}}
    out = open(data / "run.out", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "devstack.run"], cwd=ROOT, env=env,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: proc.poll() is not None or b"is running" in
                   (data / "run.out").read_bytes(), 180, 0.5, "make run's banner")
        assert proc.poll() is None, (data / "run.out").read_text()
        key = json.loads((data / "dev-key.json").read_text())
        stack = {"api": f"http://127.0.0.1:{ports['API']}", "web": f"http://127.0.0.1:{ports['WEB']}",
                 "key": key, "data": data}
        wait_until(lambda: any(n["healthy"] for n in call(stack, "GET", "/nodes")["nodes"]), 30,
                   what="the media node's first heartbeat")
        yield stack
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # as Ctrl-C: make run stops its services by pid
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def call(stack, method: str, path: str, body=None, token: str | None = None):
    """One request to the stack's API, as an admin unless ``token`` says otherwise."""
    token = token or mint_admin_token(stack["key"]["key"], stack["key"]["secret"], 300)
    request = urllib.request.Request(stack["api"] + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def destination(stack, s3_endpoint):
    """A moto S3 bucket registered as a recording destination."""
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return call(stack, "POST", "/destinations", {
        "type": "s3", "bucket": BUCKET, "region": "us-east-1", "prefix": "web",
        "endpoint": s3_endpoint, "forcePathStyle": True,
        "credentials": {"accessKeyId": "testing", "secretAccessKey": "testing"}})["destinationId"]


@pytest.fixture(scope="module")
def browser():
    with chromium(playwright_api) as chromium_browser:
        yield chromium_browser


def steady(page, participant_id: str, kind: str, field: str) -> bool:
    """True once ``field`` has not moved over two readings a second and a half apart."""
    before = inbound(page, participant_id, kind).get(field, 0)
    time.sleep(1.5)
    return inbound(page, participant_id, kind).get(field, 0) == before


def test_a_host_runs_a_stage_event_from_the_web_app(stack, destination, browser, s3_endpoint):
    host = browser.new_context().new_page()
    audience = browser.new_context().new_page()
    ARTIFACTS.mkdir(exist_ok=True)

    # the host creates a stage room with a waiting room, from the form
    host.goto(stack["web"] + "/")
    host.fill("#create-form [name=name]", "Web town hall")
    host.fill("#create-form [name=identity]", "hana")
    host.check("#create-form [name=stageMode]")
    host.check("#create-form [name=waitingRoom]")
    host.click("#create-form button[type=submit]")
    joined(host)
    page_wait(host, "!document.querySelector('#host-panel').hidden")
    room_id = host.evaluate("app.room.roomId")
    policy = call(stack, "GET", f"/rooms/{room_id}")["policy"]
    assert policy["stageMode"] and policy["waitingRoom"]

    # an invite link for the audience member, who knocks
    host.fill("#invite-form [name=identity]", "ada")
    host.select_option("#invite-form [name=role]", "audience")
    host.click("#invite-form button[type=submit]")
    page_wait(host, "document.querySelector('#invite-link').value.includes('token=')")
    audience.goto(host.input_value("#invite-link"))
    page_wait(audience, "document.querySelector('#status').dataset.state === 'waiting'")
    assert "Waiting for the host" in audience.inner_text("#status")

    # admitted from the waiting list
    host.click("#waiting-list li[data-identity=ada] >> text=Admit")
    joined(audience)
    ada = audience.evaluate("app.room.participantId")
    # GROUP_CALL_JOINED came to the admitted member, with its own session's callId
    page_wait(audience, "app.events.some(m => m.type === 'GROUP_CALL_JOINED' && m.data.admitted)")
    assert audience.evaluate("app.events.find(m => m.type === 'GROUP_CALL_JOINED').data.callId"
                             " === app.room.join.callId")
    page_wait(host, "document.querySelector('#audience-count').textContent.startsWith('1 ')")

    # a raised hand, promoted from the hands list
    audience.click("#hand")
    host.click("#hands-list li[data-identity=ada] >> text=Promote", timeout=30000)
    page_wait(audience, "app.room.role === 'speaker' && app.room.publishing")

    # the host's page decodes the member's video, and hears their audio
    wait_decoding(host, ada)
    page_wait(host, "document.querySelector('.tile[data-identity=ada] video').videoWidth > 0")
    audio = inbound(host, ada, "audio")["packetsReceived"]
    wait_until(lambda: inbound(host, ada, "audio")["packetsReceived"] > audio + 50, 30,
               what="the member's audio at the host")

    # muted by the host: the host's page stops receiving their audio (video goes on)
    host.click("#people-list li[data-identity=ada] >> text=Mute audio")
    page_wait(audience, "app.room.muted.audio === true")
    wait_until(lambda: steady(host, ada, "audio", "packetsReceived"), 30,
               what="the member's audio to stop at the host")
    frames = inbound(host, ada, "video")["framesDecoded"]
    wait_until(lambda: inbound(host, ada, "video")["framesDecoded"] > frames + 10, 30,
               what="the member's video after the audio mute")

    # a recording into the moto bucket; its files appear in the page once uploaded
    page_wait(host, "document.querySelector('#destination option') !== null")
    host.select_option("#destination", destination)
    host.click("#record-start")
    page_wait(host, "document.querySelector('#recordings .recording[data-status=recording]')", 45)
    recording_frames = inbound(host, ada, "video")["framesDecoded"]
    wait_until(lambda: inbound(host, ada, "video")["framesDecoded"] > recording_frames + 60, 30,
               what="two seconds of video while recording")
    host.click("#record-stop")
    page_wait(host, "document.querySelector('#recordings .recording[data-status=completed]')", 90)
    files = host.locator("#recordings .recording-file").all_inner_texts()
    assert files and all(BUCKET in f and "sha256" in f for f in files), files
    recordings = call(stack, "GET", f"/rooms/{room_id}/recordings")["recordings"]
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    for entry in recordings[0]["files"]:
        assert any(entry["sha256"] in f for f in files), (entry, files)
        key = entry["uri"].removeprefix(f"s3://{BUCKET}/")  # the object is in the bucket
        assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == entry["bytes"]
    host.screenshot(path=str(ARTIFACTS / "web-app-host.png"), full_page=True)
    audience.screenshot(path=str(ARTIFACTS / "web-app-audience.png"), full_page=True)

    # back to the audience: the member stops sending and their camera closes
    host.click("#people-list li[data-identity=ada] >> text=Move to audience")
    page_wait(audience, "app.room.role === 'audience' && !app.room.publishing "
                        "&& app.room.localStream === null")
    page_wait(host, "document.querySelector('#audience-count').textContent.startsWith('1 ')")

    # kicked: the member's page says so
    host.click("#people-list li[data-identity=ada] >> text=Kick")
    page_wait(audience, "document.querySelector('#status').dataset.state === 'kicked'")
    assert "You were removed from the room" in audience.inner_text("#status")
    audience.screenshot(path=str(ARTIFACTS / "web-app-audience-kicked.png"), full_page=True)
    audience.reload()  # the ban holds: the socket is refused, and the page says why
    page_wait(audience, "document.querySelector('#status').dataset.state === 'refused'")
    assert "can't join it again" in audience.inner_text("#status")
    page_wait(host, "!document.querySelector('#people-list li[data-identity=ada]')")


def link(stack, room: str, identity: str, role: str = "speaker") -> str:
    token = call(stack, "POST", f"/rooms/{room}/tokens",
                 {"identity": identity, "role": role, "replace": True})["token"]
    return f"{stack['web']}/#room={room}&token={token}"


# While set, the page's new WebSockets go to a closed port: the socket stays down.
BLOCK_SOCKETS = """() => {
  const Real = window.WebSocket;
  window.blockSockets = true;
  window.WebSocket = function (url) { return new Real(window.blockSockets ? "ws://127.0.0.1:9/" : url); };
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  window.seen = [];
  app.room.on("*", (m) => { if (m.seq !== undefined) window.seen.push(m.seq); });
  app.room.socket.ws.close();
}"""


def test_after_a_socket_blip_the_page_reconnects_and_misses_nothing(stack, browser):
    room = call(stack, "POST", "/rooms", {"name": "blip", "persistent": True})["id"]
    page = browser.new_context().new_page()
    page.goto(link(stack, room, "sam"))
    joined(page)
    page_wait(page, "app.room.publishing")
    sam = page.evaluate("app.room.participantId")

    page.evaluate(BLOCK_SOCKETS)
    page_wait(page, "document.querySelector('#status').dataset.state === 'reconnecting'")
    assert "Connection lost, reconnecting" in page.inner_text("#status")
    # what happens meanwhile reaches the page once its socket is back
    call(stack, "POST", f"/rooms/{room}/participants/{sam}/mute", {"audio": False, "video": True})
    call(stack, "POST", f"/rooms/{room}/participants/{sam}/mute",
         {"audio": True, "video": False})
    page.evaluate("window.blockSockets = false")
    joined(page)
    page_wait(page, "app.room.muted.video && app.room.muted.audio")
    seen = page.evaluate("window.seen")
    assert seen == sorted(set(seen)) and len(seen) >= 2, seen


def test_make_run_serves_the_app_its_addresses_and_a_dev_only_admin_token(stack):
    with urllib.request.urlopen(stack["web"] + "/", timeout=10) as response:
        assert b'src="app.js"' in response.read()
    with urllib.request.urlopen(stack["web"] + "/dropon.js", timeout=10) as response:
        assert response.headers["Content-Type"] == "text/javascript"  # ES modules need it
    with urllib.request.urlopen(stack["web"] + "/config.json", timeout=10) as response:
        config = json.loads(response.read())
    assert config["apiUrl"] == stack["api"] and config["wsUrl"].startswith("ws://127.0.0.1:")
    out = (stack["data"] / "run.out").read_text()
    assert f"Web app         {stack['web']}/" in out

    # another origin's page cannot send the header without a preflight this server refuses
    preflight = urllib.request.Request(stack["web"] + "/dev/admin-token", method="OPTIONS")
    with pytest.raises(urllib.error.HTTPError) as unanswered:
        urllib.request.urlopen(preflight, timeout=10)
    assert unanswered.value.code >= 400 and "Access-Control-Allow-Origin" not in unanswered.value.headers
    bare = urllib.request.Request(stack["web"] + "/dev/admin-token", method="POST", data=b"")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bare, timeout=10)
    assert refused.value.code == 403
    bare.add_header("X-DropOn-Dev", "1")
    with urllib.request.urlopen(bare, timeout=10) as response:
        token = json.loads(response.read())["token"]
    rooms = urllib.request.Request(stack["api"] + "/rooms",
                                   headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(rooms, timeout=10) as response:
        assert response.status == 200


def test_a_person_reads_why_they_are_not_in_the_room(stack, browser):
    page = browser.new_context().new_page()
    full = call(stack, "POST", "/rooms", {"name": "full", "persistent": True,
                                          "policy": {"maxParticipants": 1}})["id"]
    una = call(stack, "POST", f"/rooms/{full}/tokens", {"identity": "una", "role": "speaker"})
    call(stack, "POST", f"/rooms/{full}/join", None, una["token"])
    page.goto(link(stack, full, "vic"))
    page_wait(page, "document.querySelector('#status').dataset.state === 'refused'")
    assert "The room is full" in page.inner_text("#status")

    # a reload joins again (the link's token replaces the session the page left behind)
    room = call(stack, "POST", "/rooms", {"name": "ending", "persistent": True})["id"]
    page.goto(link(stack, room, "wes"))
    joined(page)
    first = page.evaluate("app.room.participantId")
    page.reload()
    joined(page)
    assert page.evaluate("app.room.participantId") != first

    call(stack, "POST", f"/rooms/{room}/close", {})
    page_wait(page, "document.querySelector('#status').dataset.state === 'ended'")
    assert "The room has ended" in page.inner_text("#status")
