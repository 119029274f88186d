// Media in a P2P room: one peer connection per other participant, signaled through the
// room's socket ({action: "signal", to, data} out, {type: "SIGNAL", from, data} in; data
// is {type: offer|answer, sdp}, {type: candidate, candidate} or {type: bye}: docs/api.md).
import {inboundStats, isLoopbackCandidate, loopbackOnly} from "./rtc.js";

/**
 * A mesh of peer connections with "perfect negotiation" (either side may offer; the
 * polite one yields on glare). A newcomer calls the participants already joined; the
 * others answer whoever calls.
 *
 * Dispatches `remotes` (detail: [{participantId, kind, mid, track}]) and `state`.
 */
export class P2PMesh extends EventTarget {
  constructor({socket, selfId, iceServers = [], publish, localMedia, loopback = false}) {
    super();
    this.socket = socket;
    this.selfId = selfId;
    this.iceServers = iceServers;
    this.publish = publish;
    this.localMedia = localMedia;
    this.loopback = loopback;
    this.peers = new Map();  // participantId -> {pc, polite, makingOffer, ignoreOffer}
    this.closed = false;
  }

  /** Call every participant already joined. */
  async start(participantIds) {
    for (const id of participantIds) if (id !== this.selfId) await this._peer(id);
  }

  async _peer(id) {
    let peer = this.peers.get(id);
    if (peer) return peer;
    const pc = new RTCPeerConnection({iceServers: this.iceServers});
    peer = {pc, polite: this.selfId > id, makingOffer: false, ignoreOffer: false,
            remote: new Map(),  // mid -> the track the peer sends on it
            early: []};         // candidates that came before the peer's description
    this.peers.set(id, peer);
    pc.addEventListener("icecandidate", ({candidate}) => {
      if (candidate && this.loopback && !isLoopbackCandidate(candidate)) return;
      this._signal(id, {type: "candidate", candidate: candidate && candidate.toJSON()});
    });
    pc.addEventListener("negotiationneeded", async () => {
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        this._signal(id, this._description(pc.localDescription));
      } finally {
        peer.makingOffer = false;
      }
    });
    pc.addEventListener("track", (e) => {
      peer.remote.set(e.transceiver.mid, e.track);
      e.track.addEventListener("ended", () => this._remotesChanged());
      this._remotesChanged();
    });
    pc.addEventListener("connectionstatechange", () => {
      this.dispatchEvent(new CustomEvent("state", {detail: {participantId: id, state: pc.connectionState}}));
      if (pc.connectionState === "failed") pc.restartIce();
    });
    await this._attachLocal(pc);
    return peer;
  }

  async _attachLocal(pc) {
    if (this.publish.audio || this.publish.video) {
      const stream = await this.localMedia(this.publish);
      const sending = new Set(pc.getSenders().map((s) => s.track).filter(Boolean));
      for (const track of stream.getTracks()) if (!sending.has(track)) pc.addTrack(track, stream);
    } else if (pc.getTransceivers().length === 0) {
      pc.addTransceiver("audio", {direction: "recvonly"});
      pc.addTransceiver("video", {direction: "recvonly"});
    }
  }

  _description(description) {
    const sdp = this.loopback ? loopbackOnly(description.sdp) : description.sdp;
    return {type: description.type, sdp};
  }

  // refusals (peer_not_connected, banned, ...) are not retried: the peer calls again
  // when it comes back, and a departed peer is removed on PARTICIPANT_LEFT
  _signal(to, data) {
    this.socket.command("signal", {to, data}).catch((error) =>
      this.dispatchEvent(new CustomEvent("signal-error", {detail: {to, error}})));
  }

  /** A `SIGNAL` message from the socket. */
  async handleSignal(from, data) {
    if (this.closed || !data) return;
    const peer = await this._peer(from);
    const pc = peer.pc;
    if (data.type === "offer" || data.type === "answer") {
      const offer = data.type === "offer";
      const collision = offer && (peer.makingOffer || pc.signalingState !== "stable");
      peer.ignoreOffer = !peer.polite && collision;
      if (peer.ignoreOffer) return;
      await pc.setRemoteDescription({type: data.type, sdp: data.sdp});
      if (offer) {
        await pc.setLocalDescription();
        this._signal(from, this._description(pc.localDescription));
      }
      for (const candidate of peer.early.splice(0)) await this._addCandidate(peer, candidate);
    } else if (data.type === "candidate") {
      if (this.loopback && !isLoopbackCandidate(data.candidate)) return;
      if (!pc.remoteDescription) peer.early.push(data.candidate);
      else await this._addCandidate(peer, data.candidate);
    } else if (data.type === "bye") {
      this.remove(from, false);
    }
  }

  async _addCandidate(peer, candidate) {
    try {
      await peer.pc.addIceCandidate(candidate || null);
    } catch (e) {
      if (!peer.ignoreOffer) throw e;
    }
  }

  /** The role now allows (or no longer allows) publishing: renegotiate every peer. */
  async setPublish(publish) {
    this.publish = publish;
    for (const {pc} of this.peers.values()) {
      if (publish.audio || publish.video) await this._attachLocal(pc);
      else for (const sender of pc.getSenders()) if (sender.track) pc.removeTrack(sender);
    }
  }

  /** A peer left or was kicked: close its connection (the server stops its signals);
   * with `sayBye`, tell the peer first. */
  remove(id, sayBye = false) {
    const peer = this.peers.get(id);
    if (!peer) return;
    if (sayBye) this._signal(id, {type: "bye"});
    peer.pc.close();
    this.peers.delete(id);
    this._remotesChanged();
  }

  _remotesChanged() {
    const remotes = [];
    for (const [participantId, {remote}] of this.peers) {
      for (const [mid, track] of remote)
        if (track.readyState === "live") remotes.push({participantId, kind: track.kind, mid, track});
    }
    this.dispatchEvent(new CustomEvent("remotes", {detail: remotes}));
  }

  async stats() {
    const all = [];
    for (const [id, {pc}] of this.peers) all.push(...await inboundStats(pc, () => id));
    return all;
  }

  /** Close every connection; with `sayBye` (leaving), tell each peer. */
  close(sayBye = false) {
    this.closed = true;
    for (const id of [...this.peers.keys()]) this.remove(id, sayBye);
  }
}
