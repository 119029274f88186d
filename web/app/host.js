// The host panel: invites, the waiting list, hands, people, recordings.
import {$, el, fill} from "./dom.js";

const ACTIVE = new Set(["starting", "recording", "stopping", "uploading"]);

function formatBytes(n) {
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MiB";
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + " KiB";
  return n + " bytes";
}

export class HostPanel {
  /**
   * @param room a dropon.js Room whose participant is a host
   * @param adminApi an Api with an admin token (local stack only), or null
   * @param report (error) => void, to show a failed action
   */
  constructor(room, adminApi, report) {
    this.room = room;
    this.adminApi = adminApi;
    this.report = report;
    this.recordings = [];
    this._poll = null;
    $("#host-panel").hidden = false;
    $("#invite").hidden = !adminApi;
    $("#invite-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this._act(this.invite(e.target));
    });
    $("#record-start").addEventListener("click", () => this.startRecording());
    $("#record-stop").addEventListener("click", () => this.stopRecording());
    this.loadDestinations();
    this.refreshRecordings();
  }

  _act(promise) {
    return promise.catch((error) => this.report(error));
  }

  async invite(form) {
    const {identity, role} = Object.fromEntries(new FormData(form));
    const {token} = await this.adminApi.createToken(this.room.roomId, identity, role,
                                                    {ttlSeconds: 4 * 3600, replace: true});
    const link = new URL(location.href);
    link.hash = new URLSearchParams({room: this.room.roomId, token}).toString();
    $("#invite-link").value = link.toString();
  }

  async loadDestinations() {
    const select = $("#destination");
    let destinations = [];
    if (this.adminApi) {
      destinations = (await this.adminApi.listDestinations().catch(() => ({destinations: []})))
        .destinations || [];
    }
    // without the dev key, a host types the destination id its operator gave it
    select.hidden = destinations.length === 0;
    $("#destination-id").hidden = destinations.length > 0;
    select.replaceChildren(...destinations.map((d) => el("option", {value: d.destinationId},
      `${d.type}: ${d.bucket || d.container} (${d.destinationId.slice(0, 8)})`)));
  }

  _destinationId() {
    return $("#destination").hidden ? $("#destination-id").value.trim() : $("#destination").value;
  }

  async startRecording() {
    await this._act(this.room.startRecording(this._destinationId(), "per-track"));
    this.refreshRecordings();
  }

  async stopRecording() {
    const active = this.recordings.filter((r) => r.status === "starting" || r.status === "recording");
    await Promise.all(active.map((r) => this._act(this.room.stopRecording(r.recordingId))));
    this.refreshRecordings();
  }

  async refreshRecordings() {
    const recordings = await this.room.listRecordings().catch(() => null);
    if (!recordings) return;
    this.recordings = recordings;
    const list = $("#recordings");
    fill(list, recordings.slice().reverse().map((r) => el("li",
      {class: "recording", dataset: {recordingId: r.recordingId, status: r.status}},
      el("span", {class: "recording-status"}, `${r.output} · ${r.status}`),
      r.error ? el("span", {class: "hint"}, " " + (r.reason || "") + " " + r.error) : null,
      el("ul", {}, (r.files || []).map((f) => el("li", {class: "recording-file"},
        el("code", {}, f.uri), ` · ${f.kind} · ${formatBytes(f.bytes)} · sha256 `,
        el("code", {class: "sha256"}, f.sha256)))))), "no recordings yet");
    const recording = recordings.some((r) => r.status === "starting" || r.status === "recording");
    $("#record-stop").disabled = !recording;
    // the node's inner steps (writing, uploading) have no socket event: poll meanwhile
    clearTimeout(this._poll);
    if (recordings.some((r) => ACTIVE.has(r.status)))
      this._poll = setTimeout(() => this.refreshRecordings(), 1000);
  }

  /** Draw the lists from the full room (a host reads everything). */
  render(view) {
    const people = view.participants || [];
    const button = (label, action, cls = "secondary") =>
      el("button", {type: "button", class: cls, onclick: () => this._act(action())}, label);
    const who = (p) => el("span", {class: "who"}, p.identity, el("small", {}, ` ${p.role}`));
    const waiting = people.filter((p) => p.state === "waiting");
    fill($("#waiting-list"), waiting.map((p) => el("li", {dataset: {identity: p.identity}}, who(p),
      button("Admit", () => this.room.admit(p.id), ""),
      button("Deny", () => this.room.deny(p.id)))), "nobody waiting");
    const joined = people.filter((p) => p.state === "joined");
    const hands = joined.filter((p) => p.handRaised);
    fill($("#hands-list"), hands.map((p) => el("li", {dataset: {identity: p.identity}}, who(p),
      p.role === "audience" ? button("Promote", () => this.room.promote(p.id), "") : null,
      button("Lower", () => this.room.lowerHand(p.id)))), "no hands up");
    const others = joined.filter((p) => p.id !== this.room.participantId);
    fill($("#people-list"), others.map((p) => {
      const muted = p.muted || {};
      return el("li", {dataset: {identity: p.identity, participantId: p.id}}, who(p),
        button(muted.audio ? "Unmute audio" : "Mute audio",
               () => this.room.mute(p.id, {audio: true, video: false, muted: !muted.audio})),
        button(muted.video ? "Unmute video" : "Mute video",
               () => this.room.mute(p.id, {audio: false, video: true, muted: !muted.video})),
        p.role === "speaker" ? button("Move to audience", () => this.room.demote(p.id)) : null,
        p.role === "audience" ? button("Bring on stage", () => this.room.promote(p.id)) : null,
        p.role !== "host" ? button("Kick", () => this.room.kick(p.id), "danger") : null);
    }), "nobody else yet");
  }

  close() {
    clearTimeout(this._poll);
  }
}
