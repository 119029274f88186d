// dropon.js: the browser SDK of DropOnAir Rooms (a plain ES module, no bundler).
//
//   import {DropOn} from "./dropon.js";
//   const room = await DropOn.joinRoom({apiUrl, wsUrl, roomId, token});
//   room.on("GROUP_CALL_JOINED", (m) => console.log(m.data.callId));
//   room.on("remotes", (byParticipant) => ...);   // Map participantId -> {audio, video}
//
// docs/web.md describes the whole API.
import {Api, DropOnError, HostControls} from "./dropon/api.js";
import {P2PMesh} from "./dropon/p2p.js";
import {RoomSocket} from "./dropon/socket.js";
import {SfuSession} from "./dropon/sfu.js";

export {Api, DropOnError};

const MEDIA_RETRY_MS = 2000;
// a state that ends the room for this client: no reconnection after it
const FINAL = new Set(["left", "kicked", "denied", "ended", "refused"]);

/**
 * A joined (or knocking) participant's room: its socket, its media, its controls.
 *
 * `on(type, fn)` listens to every room event by its socket type (`GROUP_CALL_JOINED`,
 * `WAITING`, `MUTED`, ...; `fn` gets the message) and to the SDK's own: `state`
 * (`{state, error}`: connecting, waiting, joined, reconnecting, left, kicked, denied,
 * ended, refused), `remotes` (Map participantId -> {audio, video} tracks), `local` (the
 * camera's MediaStream), `mute` ({audio, video} as the server mutes this participant),
 * `role`, `hand`, `media` ({state}). `"*"` gets every socket message.
 */
export class Room extends EventTarget {
  constructor({apiUrl, wsUrl, roomId, token, loopback = false}) {
    super();
    this.roomId = roomId;
    this.api = new Api(apiUrl, token);
    this.host = new HostControls(this.api, roomId);
    this.socket = new RoomSocket({wsUrl: wsUrl || defaultWsUrl(apiUrl), roomId, token});
    this.loopback = loopback;
    this.state = "connecting";
    this.error = null;
    this.join = null;          // the join answer
    this.participantId = null;
    this.callId = null;
    this.role = null;
    this.muted = {audio: false, video: false};   // by a host, enforced by the node
    this.selfEnabled = {audio: true, video: true}; // the user's own mic/camera switches
    this.handRaised = false;
    this.localStream = null;
    this.media = null;         // SfuSession or P2PMesh
    this.remotes = new Map();
    this._mediaRetry = null;
  }

  /** Listen; returns a function that stops listening. */
  on(type, fn) {
    const listener = (e) => fn(e.detail);
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }

  _emit(type, detail) { this.dispatchEvent(new CustomEvent(type, {detail})); }

  _setState(state, error = null) {
    if (FINAL.has(this.state) && state !== this.state) return;
    this.state = state;
    this.error = error;
    this._emit("state", {state, error});
  }

  get isHost() { return this.role === "host"; }
  get mediaMode() { return this.join ? this.join.mediaMode : null; }
  get publishing() { return !!(this.media && this.media.publishing); }

  /** Open the socket and join; resolves once joined or waiting, rejects with DropOnError. */
  async connect() {
    const s = this.socket;
    s.addEventListener("message", (e) => this._onMessage(e.detail));
    s.addEventListener("disconnected", () => {
      if (!FINAL.has(this.state)) {
        this._before = this.state === "reconnecting" ? this._before : this.state;
        this._setState("reconnecting");
      }
    });
    s.addEventListener("reconnected", () => {
      if (this.state === "reconnecting") this._setState(this._before || "joined");
    });
    s.addEventListener("refused", (e) => this._end("refused", e.detail));
    try {
      await s.open();
      const join = await s.command("join");
      this._joined(join);
    } catch (error) {
      // a socket refused right after its handshake (banned, wrong_room) says why itself
      const reason = this.state === "refused" && this.error ? this.error : error;
      this._end("refused", reason);
      throw reason;
    }
    if (this.join.status === "waiting") this._setState("waiting");
    else await this._admitted();
    return this;
  }

  _joined(join) {
    this.join = join;
    this.participantId = join.participantId;
    this.callId = join.callId;
    this.role = join.role;
    // a reconnect before any event resumes from the join itself
    if (this.socket.lastSeq === null) this.socket.resumeAfter = join.version - 1;
  }

  async _admitted() {
    this._setState("joined");
    this._emit("role", this.role);
    await this._startMedia(this.join.media).catch((e) => this._mediaFailed(e));
  }

  _canPublish(role = this.role) {
    const allowed = role === "host" || role === "speaker";
    return {audio: allowed, video: allowed && !(this.join && this.join.audioOnly)};
  }

  async _localMedia(publish) {
    if (!this.localStream) {
      this.localStream = await navigator.mediaDevices.getUserMedia(
        {audio: true, video: !(this.join && this.join.audioOnly)});
      this._applyEnabled();
      this._emit("local", this.localStream);
    }
    return new MediaStream(this.localStream.getTracks().filter((t) => publish[t.kind]));
  }

  async _startMedia(grant) {
    const common = {iceServers: this.join.iceServers || [], loopback: this.loopback,
                    localMedia: (p) => this._localMedia(p)};
    if (this.mediaMode === "P2P") {
      const mesh = this.media = new P2PMesh({...common, publish: this._canPublish(),
                                             socket: this.socket,
                                             selfId: this.participantId});
      mesh.addEventListener("remotes", (e) => this._setRemotes(e.detail));
      const room = await this.api.get(`/rooms/${this.roomId}`);
      await mesh.start((room.participants || []).filter((p) => !p.state || p.state === "joined")
        .map((p) => p.id));
      return;
    }
    if (!grant) grant = (await this.api.post(`/rooms/${this.roomId}/media`)).media;
    const session = new SfuSession({...common, grant, role: this.role,
                                    publishFor: (role) => this._canPublish(role)});
    session.addEventListener("remotes", (e) => this._setRemotes(e.detail));
    session.addEventListener("notice", (e) => this._onNotice(e.detail));
    session.addEventListener("publishing", (e) => this._emit("publishing", e.detail));
    session.addEventListener("state", (e) => this._emit("media", {state: e.detail}));
    session.addEventListener("lost", () => { if (this.media === session) this._reconnectMedia(); });
    this.media = session;
    await session.connect();
  }

  _mediaFailed(error) {
    this._emit("media", {state: "failed", error});
    if (!FINAL.has(this.state)) {
      clearTimeout(this._mediaRetry);
      this._mediaRetry = setTimeout(() => this._reconnectMedia(), MEDIA_RETRY_MS);
    }
  }

  /** A new media grant (`POST /media`) and a new connection: after a failure or a move. */
  async _reconnectMedia() {
    if (FINAL.has(this.state) || this.state === "waiting" || this.mediaMode === "P2P") return;
    if (this._reconnecting) {
      this._reconnectAgain = true;  // e.g. MEDIA_NODE_CHANGED while asking the old node
      return;
    }
    this._reconnecting = true;
    clearTimeout(this._mediaRetry);
    this._emit("media", {state: "reconnecting"});
    try {
      const old = this.media;
      this.media = null;
      if (old) await old.close(true);
      this._setRemotes([]);
      await this._startMedia(null).catch((e) => this._mediaFailed(e));
    } finally {
      this._reconnecting = false;
    }
    if (this._reconnectAgain) {
      this._reconnectAgain = false;
      await this._reconnectMedia();
    }
  }

  _setRemotes(list) {
    const byParticipant = new Map();
    for (const {participantId, kind, track} of list) {
      if (!participantId) continue;
      const entry = byParticipant.get(participantId) || {audio: null, video: null};
      entry[kind] = track;
      byParticipant.set(participantId, entry);
    }
    this.remotes = byParticipant;
    this._emit("remotes", byParticipant);
  }

  _onNotice(notice) {
    if (notice.type === "bye" && notice.reason === "room_closed") this._end("ended");
    else if (notice.type === "bye" && notice.reason === "kicked") this._end("kicked");
  }

  _isSelf(message) {
    return message.data && message.data.participantId === this.participantId;
  }

  _onMessage(m) {
    const self = this._isSelf(m);
    switch (m.type) {
      case "GROUP_CALL_JOINED":
        this.callId = m.data.callId;
        if (m.data.admitted && this.state === "waiting") {
          this.join = {...this.join, status: "joined"};
          this._admitted();
        }
        break;
      case "DENIED": if (self) this._end("denied"); break;
      case "KICKED":  // hosts read others' kicks as KICKED, members as PARTICIPANT_LEFT
        if (self) this._end("kicked");
        else if (this.media instanceof P2PMesh) this.media.remove(m.data.participantId);
        break;
      case "ROOM_CLOSED": this._end("ended"); break;
      case "PARTICIPANT_LEFT":
        if (self && this.state !== "left")  // "replaced": this identity joined elsewhere
          this._end("left", m.data.reason ? new DropOnError(m.data.reason, m.data.reason) : null);
        else if (this.media instanceof P2PMesh) this.media.remove(m.data.participantId);
        break;
      case "ROLE_CHANGED":
        if (self) {
          this.role = m.data.role;
          this._emit("role", this.role);
          // a promotion clears the hand without a HAND_LOWERED of its own
          if (this.handRaised) { this.handRaised = false; this._emit("hand", false); }
          // the SFU node renegotiates by itself (its "role" notice); a mesh must
          if (this.media instanceof P2PMesh) this.media.setPublish(this._canPublish());
          if (!this._canPublish().audio) this._stopLocalMedia();  // the camera light goes off
        }
        break;
      case "MUTED": case "UNMUTED":
        if (self) {
          for (const kind of ["audio", "video"]) if (m.data[kind]) this.muted[kind] = m.type === "MUTED";
          this._applyEnabled();
          this._emit("mute", {...this.muted});
        }
        break;
      case "HAND_RAISED": case "HAND_LOWERED":
        if (self) { this.handRaised = m.type === "HAND_RAISED"; this._emit("hand", this.handRaised); }
        break;
      case "MEDIA_NODE_CHANGED":
        if (this.media instanceof SfuSession && this.media.grant.nodeId !== m.data.nodeId)
          this._reconnectMedia();
        break;
      case "SIGNAL":
        if (this.media instanceof P2PMesh)
          this.media.handleSignal(m.from, m.data).catch((e) => this._emit("media", {error: e}));
        break;
    }
    this._emit(m.type, m);
    this._emit("*", m);
  }

  _stopLocalMedia() {
    if (!this.localStream) return;
    for (const track of this.localStream.getTracks()) track.stop();
    this.localStream = null;
    this._emit("local", null);
  }

  // a server mute also turns the local track off (the only enforcement in a P2P mesh)
  _applyEnabled() {
    if (!this.localStream) return;
    for (const track of this.localStream.getTracks())
      track.enabled = this.selfEnabled[track.kind] && !this.muted[track.kind];
  }

  /** The user's own microphone switch. */
  setMicrophoneEnabled(on) { this.selfEnabled.audio = on; this._applyEnabled(); }
  /** The user's own camera switch. */
  setCameraEnabled(on) { this.selfEnabled.video = on; this._applyEnabled(); }

  raiseHand() { return this.socket.command("raise_hand"); }
  /** Lower this participant's hand, or (a host) someone else's. */
  lowerHand(participantId) {
    if (participantId && participantId !== this.participantId)
      return this.host.lowerHandOf(participantId);
    return this.socket.command("lower_hand");
  }

  /** The room as this participant may read it (hosts: everything). */
  getRoom() { return this.api.get(`/rooms/${this.roomId}`); }

  // host controls (docs/api.md): the caller must be a joined host
  admit(id) { return this.host.admit(id); }
  deny(id) { return this.host.deny(id); }
  promote(id) { return this.host.promote(id); }
  demote(id) { return this.host.demote(id); }
  kick(id) { return this.host.kick(id); }
  mute(id, kinds) { return this.host.mute(id, kinds); }
  startRecording(destinationId, output) { return this.host.startRecording(destinationId, output); }
  /** The seed's name for `startRecording`. */
  startSfuRecording(destinationId, output) { return this.startRecording(destinationId, output); }
  stopRecording(recordingId) { return this.host.stopRecording(recordingId); }
  listRecordings() { return this.host.listRecordings(); }

  /** Inbound streams with their participant: packets, frames decoded (getStats). */
  async stats() { return this.media ? this.media.stats() : []; }

  /** Leave the room (a `leave` command), then close media and the socket. */
  async leave() {
    // a mesh's goodbyes go first: once left, the server refuses this participant's signals
    if (this.media instanceof P2PMesh) this.media.close(true);
    if (!FINAL.has(this.state)) await this.socket.command("leave").catch(() => {});
    this._end("left");
  }

  _end(state, error = null) {
    if (FINAL.has(this.state)) return;
    this._setState(state, error);
    clearTimeout(this._mediaRetry);
    if (this.media) this.media.close(state === "left");  // SFU: DELETE the session
    this.media = null;
    this._stopLocalMedia();
    this._setRemotes([]);
    this.socket.close();
  }
}

/** The local stack's socket is on the API's port + 1 (`make run`: 8000 and 8001). */
function defaultWsUrl(apiUrl) {
  const url = new URL(apiUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  if (url.port) url.port = String(Number(url.port) + 1);
  return url.toString();
}

export const DropOn = {
  /** Open the room's socket, join, and connect media when joined. */
  async joinRoom(options) {
    return new Room(options).connect();
  },
};
