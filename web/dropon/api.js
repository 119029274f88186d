// The control plane's HTTP API, as a participant or an admin token sees it.

/** An error of the API, the socket or the media node, with the API's stable `code`. */
export class DropOnError extends Error {
  constructor(code, message, status = 0) {
    super(message || code);
    this.name = "DropOnError";
    this.code = code;
    this.status = status;
  }
}

/** JSON requests to `apiUrl` with a bearer token. */
export class Api {
  constructor(apiUrl, token) {
    this.apiUrl = apiUrl.replace(/\/$/, "");
    this.token = token;
  }

  /** `method path` with an optional JSON body; the answer's JSON, or a DropOnError. */
  async request(method, path, body, token = this.token) {
    let response;
    try {
      response = await fetch(this.apiUrl + path, {
        method,
        headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new DropOnError("network_error", String(e));
    }
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw new DropOnError(error.code || "http_" + response.status,
                            error.message || response.statusText, response.status);
    }
    return data;
  }

  get(path) { return this.request("GET", path); }
  post(path, body = {}) { return this.request("POST", path, body); }

  // admin token: what the web app's "create a room" form needs
  createRoom(body) { return this.post("/rooms", body); }
  /** With `replace`, a join with the token ends the identity's session that is still
   * in the room (a reloaded page) instead of failing `already_joined`. */
  createToken(roomId, identity, role, {ttlSeconds = 3600, replace = false} = {}) {
    return this.post(`/rooms/${roomId}/tokens`, {identity, role, ttlSeconds, replace});
  }
  listDestinations() { return this.get("/destinations"); }
}

/** A host's controls on one room, through the API with the host's own participant token
 * (host rights come from the room's record of the joined host). */
export class HostControls {
  constructor(api, roomId) {
    this.api = api;
    this.roomId = roomId;
  }

  _participant(participantId, verb, body = {}) {
    return this.api.post(`/rooms/${this.roomId}/participants/${participantId}/${verb}`, body);
  }

  admit(participantId) { return this._participant(participantId, "admit"); }
  deny(participantId) { return this._participant(participantId, "deny"); }
  promote(participantId) { return this._participant(participantId, "promote"); }
  demote(participantId) { return this._participant(participantId, "demote"); }
  kick(participantId) { return this._participant(participantId, "kick"); }
  lowerHandOf(participantId) { return this._participant(participantId, "lower-hand"); }
  /** Server-side mute (`muted: true`) or unmute of audio, video or both. */
  mute(participantId, {audio = true, video = false, muted = true} = {}) {
    return this._participant(participantId, "mute", {audio, video, muted});
  }
  liftBan(identity) {
    return this.api.request("DELETE", `/rooms/${this.roomId}/bans/${encodeURIComponent(identity)}`);
  }
  updatePolicy(changes) {
    return this.api.request("PATCH", `/rooms/${this.roomId}/policy`, changes);
  }
  closeRoom(reason) {
    return this.api.post(`/rooms/${this.roomId}/close`, reason ? {reason} : {});
  }
  startRecording(destinationId, output = "per-track") {
    return this.api.post(`/rooms/${this.roomId}/recordings`, {destinationId, output});
  }
  stopRecording(recordingId) {
    return this.api.post(`/rooms/${this.roomId}/recordings/${recordingId}/stop`);
  }
  async listRecordings() {
    return (await this.api.get(`/rooms/${this.roomId}/recordings`)).recordings;
  }
}
