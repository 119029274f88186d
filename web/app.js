// The web app: create a room (local stack's dev key) or join by link, then the room.
import {Api, Room} from "./dropon.js";
import {$, el, fill, humanMessage} from "./app/dom.js";
import {HostPanel} from "./app/host.js";

// window.app: what the page knows, for a developer's console (and the browser tests)
const app = window.app = {config: null, room: null, host: null, view: null, events: []};

function setStatus(state, error = null) {
  const status = $("#status");
  status.dataset.state = state;
  status.textContent = humanMessage(state, error);
}

async function loadConfig() {
  const response = await fetch("config.json").catch(() => null);
  const config = response && response.ok ? await response.json() : {};
  // served elsewhere, the page falls back to the local stack's addresses
  return {apiUrl: config.apiUrl || "http://127.0.0.1:8000",
          wsUrl: config.wsUrl || "ws://127.0.0.1:8001", dev: !!config.dev};
}

/** An admin token minted by `make run`'s web server with the development key. */
async function devAdminApi() {
  let token = sessionStorage.getItem("dropon.adminToken");
  const expires = Number(sessionStorage.getItem("dropon.adminTokenExpires") || 0);
  if (!token || expires < Date.now() + 60000) {
    const response = await fetch("dev/admin-token", {method: "POST", headers: {"X-DropOn-Dev": "1"}});
    if (!response.ok) throw new Error("this server has no development key (only make run has)");
    const body = await response.json();
    token = body.token;
    sessionStorage.setItem("dropon.adminToken", token);
    sessionStorage.setItem("dropon.adminTokenExpires", String(Date.now() + body.expiresIn * 1000));
  }
  return new Api(app.config.apiUrl, token);
}

async function createRoom(form) {
  const values = new FormData(form);
  const policy = {mediaMode: values.get("mediaMode"),
                  maxParticipants: Number(values.get("maxParticipants"))};
  for (const flag of ["stageMode", "waitingRoom", "audioOnly", "hostRequired"])
    policy[flag] = values.get(flag) === "on";
  const admin = await devAdminApi();
  const room = await admin.createRoom({name: values.get("name"), persistent: true, policy});
  // replace: a reload of the page joins again instead of meeting its own session
  const {token} = await admin.createToken(room.id, values.get("identity"), "host",
                                          {ttlSeconds: 4 * 3600, replace: true});
  sessionStorage.setItem("dropon.adminRoom", room.id);
  location.hash = new URLSearchParams({room: room.id, token}).toString();  // joins (hashchange)
}

function linkParams() {
  const params = new URLSearchParams(location.hash.slice(1));
  return params.get("room") && params.get("token") ? {roomId: params.get("room"),
                                                      token: params.get("token")} : null;
}

async function joinRoom({roomId, token}) {
  $("#start").hidden = true;
  $("#room").hidden = false;
  setStatus("connecting");
  const {apiUrl, wsUrl} = app.config;
  const loopback = ["127.0.0.1", "localhost"].includes(new URL(apiUrl).hostname);
  // listen before connecting: the first state, role and tracks come during the join
  const room = app.room = new Room({apiUrl, wsUrl, roomId, token, loopback});
  wireRoom(room);
  try {
    await room.connect();
  } catch (error) {
    setStatus("refused", error);
    roomOver();
  }
}

async function startHostPanel(room) {
  if (app.host) return;
  let admin = null;
  if (app.config.dev && sessionStorage.getItem("dropon.adminRoom") === room.roomId)
    admin = await devAdminApi().catch(() => null);
  app.host = new HostPanel(room, admin, (error) => showError(error));
  refresh();
}

// the room is over for this page: only the message stays
function roomOver() {
  for (const id of ["#controls", "#stage", "#audience", "#host-panel"]) $(id).hidden = true;
  if (app.host) app.host.close();
}

function showError(error) {
  const status = $("#status");
  status.textContent = humanMessage("error", error);
  setTimeout(() => setStatus(app.room.state, app.room.error), 5000);
}

function wireRoom(room) {
  room.on("state", ({state, error}) => {
    setStatus(state, error);
    if (["left", "kicked", "denied", "ended", "refused"].includes(state)) roomOver();
    if (state === "joined") refresh();
  });
  room.on("*", (message) => {
    app.events = [...app.events.slice(-199), message];  // the room's last 200 messages
    if (message.type.startsWith("RECORDING_") && app.host) app.host.refreshRecordings();
    refresh();
  });
  room.on("role", (role) => { if (role === "host") startHostPanel(room); refresh(); });
  room.on("remotes", () => renderStage());
  room.on("local", () => renderStage());
  room.on("hand", (raised) => { $("#hand").textContent = raised ? "Lower hand" : "Raise hand"; });
  room.on("mute", () => renderStage());
  room.on("media", ({state}) => {
    if ((state === "failed" || state === "reconnecting") && room.state === "joined")
      setStatus("reconnecting");
    if (state === "connected" && room.state === "joined") setStatus("joined");
  });
}

let refreshTimer = null;
/** Re-read the room (coalesced): the roster, the hands, the waiting list. */
function refresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    const room = app.room;
    if (!room || room.state !== "joined") return;
    const view = await room.getRoom().catch(() => null);
    if (!view) return;
    app.view = view;
    $("#room-title").textContent = view.name || "";
    renderStage();
    if (app.host && room.isHost) app.host.render(view);
  }, 100);
}

// one tile per stage participant (hosts and speakers); its <video> keeps its stream
function tile(participant, stream, local) {
  let node = document.querySelector(`.tile[data-participant-id="${participant.id}"]`);
  if (!node) {
    const video = el("video", {autoplay: true, playsinline: true});
    video.muted = local;  // never hear yourself
    node = el("div", {class: local ? "tile local" : "tile", dataset: {participantId: participant.id,
                                               identity: participant.identity}},
              video, el("span", {class: "name"}), el("span", {class: "flags"}));
  }
  const video = node.querySelector("video");
  const tracks = stream ? stream.getTracks() : [];
  const current = video.srcObject ? video.srcObject.getTracks() : [];
  if (tracks.length !== current.length || tracks.some((t, i) => t !== current[i])) {
    video.srcObject = tracks.length ? new MediaStream(tracks) : null;
    if (tracks.length) play(video);
  }
  node.querySelector(".name").textContent = participant.identity + (local ? " (you)" : "");
  const muted = participant.muted || {};
  node.querySelector(".flags").replaceChildren(
    participant.handRaised ? el("span", {class: "flag hand"}, "hand raised") : "",
    muted.audio ? el("span", {class: "flag muted"}, "mic muted by host") : "",
    muted.video ? el("span", {class: "flag muted"}, "camera off by host") : "");
  return node;
}

// a page opened from a link has had no click yet: browsers refuse to autoplay sound
function play(video) {
  video.play().catch(() => {
    if (video.muted) return;
    video.muted = true;
    video.play().catch(() => {});
    setStatus(app.room.state);
    $("#status").textContent += " Click anywhere to hear the room.";
    document.addEventListener("click", () => {
      for (const v of document.querySelectorAll(".tile:not(.local) video")) {
        v.muted = false;
        v.play().catch(() => {});
      }
      setStatus(app.room.state, app.room.error);
    }, {once: true});
  });
}

function renderStage() {
  const room = app.room, view = app.view;
  if (!room || !view) return;
  const joined = (view.participants || []).filter((p) => !p.state || p.state === "joined");
  const onStage = joined.filter((p) => p.role !== "audience");
  $("#stage").replaceChildren(...onStage.map((p) => {
    const local = p.id === room.participantId;
    const remote = room.remotes.get(p.id) || {};
    const stream = local ? room.localStream
      : new MediaStream([remote.video, remote.audio].filter(Boolean));
    return tile(p, stream, local);
  }));
  const audience = joined.filter((p) => p.role === "audience");
  $("#audience-count").textContent = `${audience.length} in the audience`;
  const list = $("#audience-list");
  list.hidden = !room.isHost;
  if (room.isHost)
    fill(list, audience.map((p) => el("li", {}, p.identity, p.handRaised ? " (hand raised)" : "")));
  const canPublish = room.role !== "audience";
  $("#mic").disabled = $("#camera").disabled = !canPublish;
}

function wireControls() {
  $("#hand").addEventListener("click", () => {
    const room = app.room;
    (room.handRaised ? room.lowerHand() : room.raiseHand()).catch(showError);
  });
  for (const [id, kind, label] of [["#mic", "audio", "Microphone"], ["#camera", "video", "Camera"]]) {
    $(id).addEventListener("click", (e) => {
      const on = e.target.getAttribute("aria-pressed") !== "true";
      e.target.setAttribute("aria-pressed", String(on));
      e.target.textContent = `${label} ${on ? "on" : "off"}`;
      if (kind === "audio") app.room.setMicrophoneEnabled(on);
      else app.room.setCameraEnabled(on);
    });
  }
  $("#leave").addEventListener("click", () => app.room.leave());
  $("#create-form").addEventListener("submit", (e) => {
    e.preventDefault();
    createRoom(e.target).catch((error) => setStatus("error", error));
  });
  $("#link-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const link = new FormData(e.target).get("link");
    location.hash = new URL(link, location.href).hash;
  });
}

async function main() {
  app.config = await loadConfig();
  wireControls();
  const route = () => {
    const link = linkParams();
    if (link && !app.room) joinRoom(link);
    else if (!link && !app.room) { $("#start").hidden = false; setStatus("idle"); }
  };
  // another link once in a room: a fresh page (its join, its media, its panel)
  window.addEventListener("hashchange", () => (app.room ? location.reload() : route()));
  route();
}

main();
