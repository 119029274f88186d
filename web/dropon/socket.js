// The room's WebSocket: events in seq order, commands with replies, reconnection.
import {DropOnError} from "./api.js";

const COMMAND_TIMEOUT_MS = 20000;
const MAX_BACKOFF_MS = 5000;

/**
 * One room socket (`<wsUrl>?roomId=&token=[&after=]`, docs/api.md "Real-time events").
 *
 * Dispatches `message` (every room event, once, in seq order, and `SIGNAL`s),
 * `disconnected` (a blip: it reconnects by itself with `after`), `reconnected`, and
 * `refused` (a close code 44xx: the token or the room is no longer good; final).
 */
export class RoomSocket extends EventTarget {
  constructor({wsUrl, roomId, token}) {
    super();
    this.wsUrl = wsUrl;
    this.roomId = roomId;
    this.token = token;
    this.lastSeq = null;      // the last event seq received: where a reconnect resumes
    this.resumeAfter = null;  // used when no event came yet (the join's version - 1)
    this.pending = new Map(); // requestId -> {resolve, reject, timer}
    this.closed = false;
    this.attempts = 0;
    this.ws = null;
    this.nextId = 1;
  }

  /** Connect; resolves once open, rejects with a DropOnError when refused. */
  open() {
    return new Promise((resolve, reject) => this._connect(resolve, reject));
  }

  _url() {
    const after = this.lastSeq ?? this.resumeAfter;
    const query = new URLSearchParams({roomId: this.roomId, token: this.token});
    if (after !== null && after !== undefined) query.set("after", String(after));
    return this.wsUrl.replace(/\/$/, "") + "/?" + query;
  }

  _connect(resolve, reject) {
    const ws = this.ws = new WebSocket(this._url());
    let opened = false;
    ws.addEventListener("open", () => {
      opened = true;
      const again = this.attempts > 0;
      this.attempts = 0;
      if (resolve) resolve();
      if (again) this.dispatchEvent(new CustomEvent("reconnected"));
    });
    ws.addEventListener("message", (e) => this._receive(JSON.parse(e.data)));
    ws.addEventListener("close", (e) => {
      // a refusal closes right after the handshake: the open event has fired by then
      this._failPending(new DropOnError("connection_lost", "the room's socket closed"));
      if (this.closed) return;
      if (e.code >= 4400 && e.code < 4500) {
        const [code, ...rest] = (e.reason || "refused").split(": ");
        const error = new DropOnError(code, rest.join(": ") || code, e.code - 4000);
        this.closed = true;
        if (reject && !opened) reject(error);
        this.dispatchEvent(new CustomEvent("refused", {detail: error}));
        return;
      }
      if (reject && !opened && this.attempts === 0 && this.lastSeq === null &&
          this.resumeAfter === null) {
        reject(new DropOnError("connection_failed", "could not reach " + this.wsUrl));
        this.closed = true;
        return;
      }
      this.dispatchEvent(new CustomEvent("disconnected", {detail: {code: e.code}}));
      const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.attempts++);
      setTimeout(() => { if (!this.closed) this._connect(null, null); }, delay);
    });
  }

  _receive(message) {
    if (message.type === "REPLY" || message.type === "ERROR") {
      const waiter = this.pending.get(message.requestId);
      if (!waiter) return;
      this.pending.delete(message.requestId);
      clearTimeout(waiter.timer);
      if (message.type === "REPLY") waiter.resolve(message.data);
      else waiter.reject(new DropOnError(message.code, message.message));
      return;
    }
    if (typeof message.seq === "number") {
      const last = this.lastSeq ?? this.resumeAfter;
      if (last !== null && message.seq <= last) return;  // a repeat after a reconnect
      this.lastSeq = message.seq;
    }
    this.dispatchEvent(new CustomEvent("message", {detail: message}));
  }

  _failPending(error) {
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.pending.clear();
  }

  /** Send `{action, ...fields, requestId}`; resolves with the REPLY's `data`. */
  command(action, fields = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN)
      return Promise.reject(new DropOnError("connection_lost", "the room's socket is not open"));
    const requestId = "r" + this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new DropOnError("timeout", action + " got no answer"));
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(requestId, {resolve, reject, timer});
      this.ws.send(JSON.stringify({...fields, action, requestId}));
    });
  }

  /** Send a message that has no reply (a P2P `signal`). */
  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  close() {
    this.closed = true;
    this._failPending(new DropOnError("closed", "the room was left"));
    if (this.ws) this.ws.close(1000, "bye");
  }
}
