// Tiny DOM helpers for the web app.

/** `el("button", {class: "x", onclick}, "text", child)`: an element with attributes and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false)
      node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const $ = (selector) => document.querySelector(selector);

/** Replace a list's children. */
export function fill(list, items, empty = "nobody") {
  list.replaceChildren(...(items.length ? items : [el("li", {class: "empty"}, empty)]));
}

/** What a person reads for a room state or an error code. */
export function humanMessage(state, error) {
  const code = error && error.code;
  const byCode = {
    room_full: "The room is full. Try again when someone leaves.",
    waiting_room_full: "The waiting room is full. Try again later.",
    banned: "You were removed from this room and can't join it again.",
    room_closed: "The room has ended.",
    room_not_found: "This room doesn't exist (check the link).",
    host_required: "Waiting for the host: the room opens when a host joins.",
    token_expired: "This invite link has expired. Ask the host for a new one.",
    unauthorized: "This invite link isn't valid.",
    wrong_room: "This invite link is for another room.",
    already_joined: "You're already in this room in another window.",
    connection_failed: "Can't reach the room's server.",
  };
  if (state === "refused") return byCode[code] || (error ? error.message : "You can't join this room.");
  if (state === "left" && code === "replaced") return "You joined this room from another window.";
  return {
    connecting: "Joining…",
    waiting: "Waiting for the host to let you in…",
    joined: "You're in.",
    reconnecting: "Connection lost, reconnecting…",
    kicked: "You were removed from the room.",
    denied: "The host didn't let you in.",
    ended: "The room has ended.",
    left: "You left the room.",
    error: error ? error.message : "Something went wrong.",
  }[state] || "";
}
