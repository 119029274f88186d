// Media through the room's SFU node: a WHIP-style POST, then the node's renegotiation
// channel (docs/media-node.md, "Signaling").
import {DropOnError} from "./api.js";
import {inboundStats, loopbackOnly, waitForGathering} from "./rtc.js";

const DISCONNECTED_GRACE_MS = 5000;

/**
 * One peer connection to a media node, from a media grant `{nodeId, url, token}`.
 *
 * Dispatches `remotes` (detail: [{participantId, kind, mid, track}], the node's latest
 * mapping of m-lines to participants), `notice` (the node's muted/unmuted/role/bye
 * notices), `publishing` (detail: boolean), `state` (the connection state) and `lost`
 * (the node is gone: the connection failed, stayed disconnected, or the node closed the
 * signaling channel; the owner gets a new grant and connects again).
 */
export class SfuSession extends EventTarget {
  constructor({grant, iceServers = [], publishFor, role, localMedia, loopback = false}) {
    super();
    this.grant = grant;
    this.iceServers = iceServers;
    this.publishFor = publishFor;    // role -> {audio, video} it may publish
    this.publish = publishFor(role); // what the role allows now
    this.localMedia = localMedia;    // async ({audio, video}) => MediaStream
    this.loopback = loopback;
    this.pc = null;
    this.channel = null;
    this.location = null;
    this.mids = {};                  // mid -> {participantId, kind}, from "tracks"
    this.tracks = {};                // mid -> MediaStreamTrack
    this.wantPublish = false;
    this.publishing = false;
    this.renegotiations = 0;
    this.closed = false;
    this.isLost = false;
  }

  _sdp(sdp) { return this.loopback ? loopbackOnly(sdp) : sdp; }

  /** Offer, POST it to the node, apply its answer. */
  async connect() {
    const pc = this.pc = new RTCPeerConnection({iceServers: this.iceServers,
                                                bundlePolicy: "max-bundle"});
    pc.addEventListener("connectionstatechange", () => {
      const state = pc.connectionState;
      this.dispatchEvent(new CustomEvent("state", {detail: state}));
      clearTimeout(this._disconnectedTimer);
      if (state === "failed") this._lost();
      // "disconnected" may heal by itself; a dead node's does not
      if (state === "disconnected")
        this._disconnectedTimer = setTimeout(() => this._lost(), DISCONNECTED_GRACE_MS);
    });
    pc.addEventListener("track", (e) => {
      // a reused m-line fires "track" again: keep the latest track per mid
      this.tracks[e.transceiver.mid] = e.track;
      this._remotesChanged();
    });
    this.channel = pc.createDataChannel("signaling");
    this.channel.addEventListener("message", (e) => this._onSignal(JSON.parse(e.data)));
    this.channel.addEventListener("close", () => this._lost());  // the node hung up
    if (this.publish.audio || this.publish.video) {
      const stream = await this.localMedia(this.publish);
      // sendrecv m-lines: the node also sends other speakers on them
      for (const track of stream.getTracks()) pc.addTrack(track, stream);
      this._setPublishing(true);
    } else {
      pc.addTransceiver("audio", {direction: "recvonly"});
      pc.addTransceiver("video", {direction: "recvonly"});
    }
    await pc.setLocalDescription(await pc.createOffer());
    await waitForGathering(pc);
    const response = await fetch(this.grant.url, {
      method: "POST",
      headers: {"Authorization": "Bearer " + this.grant.token, "Content-Type": "application/sdp"},
      body: this._sdp(pc.localDescription.sdp),
    });
    const answer = await response.text();
    if (response.status !== 201) {
      let error = {};
      try { error = JSON.parse(answer).error || {}; } catch (e) { /* not JSON */ }
      throw new DropOnError(error.code || "media_refused", error.message || answer, response.status);
    }
    this.location = response.headers.get("Location");
    await pc.setRemoteDescription({type: "answer", sdp: this._sdp(answer)});
  }

  _lost() {
    if (this.closed || this.isLost) return;
    this.isLost = true;
    this.dispatchEvent(new CustomEvent("lost"));
  }

  _setPublishing(value) {
    this.publishing = value;
    this.dispatchEvent(new CustomEvent("publishing", {detail: value}));
  }

  _remotesChanged() {
    const remotes = Object.entries(this.mids)
      .filter(([mid]) => this.tracks[mid])
      .map(([mid, {participantId, kind}]) => ({participantId, kind, mid, track: this.tracks[mid]}));
    this.dispatchEvent(new CustomEvent("remotes", {detail: remotes}));
  }

  _onSignal(message) {
    if (message.type === "offer") {
      this._answer(message.sdp).catch((e) =>
        this.dispatchEvent(new CustomEvent("error", {detail: e})));
      return;
    }
    if (message.type === "tracks") {
      // the node reuses m-lines as speakers come and go: the latest notice is the truth
      this.mids = Object.fromEntries(message.tracks.map((t) =>
        [t.mid, {participantId: t.participantId, kind: t.kind}]));
      this._remotesChanged();
    } else if (message.type === "role") {
      // the node's offer with m-lines to send on follows this notice
      this.publish = this.publishFor(message.role);
      if (this.publish.audio || this.publish.video) this.wantPublish = true;
      else this._stopPublishing();
    }
    this.dispatchEvent(new CustomEvent("notice", {detail: message}));
  }

  // the node offers: new tracks to receive, or (after a promotion) m-lines to send on
  async _answer(sdp) {
    const pc = this.pc;
    await pc.setRemoteDescription({type: "offer", sdp: this._sdp(sdp)});
    if (this.wantPublish) {
      this.wantPublish = false;
      const stream = await this.localMedia(this.publish);
      for (const track of stream.getTracks()) {
        const t = pc.getTransceivers().find((t) => t.currentDirection === null &&
          t.receiver.track.kind === track.kind && !t.sender.track);
        if (t) {
          await t.sender.replaceTrack(track);
          t.direction = "sendonly";
        }
      }
      this._setPublishing(true);
    }
    await pc.setLocalDescription(await pc.createAnswer());
    this.channel.send(JSON.stringify({type: "answer", sdp: this._sdp(pc.localDescription.sdp)}));
    this.renegotiations += 1;
  }

  _stopPublishing() {
    if (!this.publishing || !this.pc) return;
    for (const sender of this.pc.getSenders()) if (sender.track) sender.replaceTrack(null);
    this._setPublishing(false);
  }

  /** Per inbound stream: {participantId, kind, mid, packetsReceived, framesDecoded, ...}. */
  async stats() {
    return inboundStats(this.pc, (mid) => (this.mids[mid] || {}).participantId || null);
  }

  /** Close the connection; with `hangUp`, tell the node first (DELETE the session). */
  async close(hangUp = true) {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this._disconnectedTimer);
    if (hangUp && this.location) {
      await fetch(this.location, {method: "DELETE",
                                  headers: {"Authorization": "Bearer " + this.grant.token}})
        .catch(() => {});
    }
    if (this.pc) this.pc.close();
  }
}
