// The bell on every page: a live badge of what is new (unseen), a popover
// with the latest items, and a toast per new alert. One notifications socket
// per tab; every tab of the user hears the server's `notifications.seen`,
// `.read`, `.archived`, `.unarchived` (with the new counts), so they agree.
//
// Seen, read, archived (Knock's and Novu's model): opening the popover marks
// what is there *seen* (the badge counts the unseen and clears); clicking an
// item marks it *read* and follows its link; archiving takes it out of the
// lists (the inbox page's Archived tab keeps it). The popover also holds
// "notifications on this device" (Web Push: alerts/push-device.js).
//
// For the page (the inbox listens): `pregon:unread` at every connect, then
// `pregon:notification` for every notification the socket brings, whichever
// frame it came in (the connect's unread snapshot, what was missed while
// away, a live push), read or not; and `pregon:read`, `pregon:seen`,
// `pregon:archived`, `pregon:unarchived`, `pregon:removed` with the frames.
// The same id can come twice (a reconnect sends it in the snapshot and in
// `missed`; the server joins before it reads, so a live push can repeat the
// snapshot): listeners deduplicate by id. The bell's memory of ids only
// keeps it from toasting twice; it never decides what a listener shows.
// `pregon:socket` tells the socket's state (connecting, live, offline…);
// `pregon:order-changed`, an order's change for the order's page.
import { api, csrfToken } from "/static/ws/pregon-api.js";
import { ReconnectingSocket, socketUrl } from "/static/ws/pregon-socket.js";
import { keepFresh, timeElement } from "/static/alerts/when.js";
import { refresh as refreshPushDevice } from "/static/alerts/push-device.js";

const POPOVER_SIZE = 10;
const MAX_TOASTS = 3;
const TOAST_MS = 8000;

const bell = document.getElementById("bell");
const badge = document.getElementById("bell-count");
const popover = document.getElementById("bell-popover");
const feedList = document.getElementById("bell-list");
const feedEmpty = document.getElementById("bell-empty");
const toasts = document.getElementById("toasts");
const inboxUrl = popover.dataset.inboxUrl;
const heard = new Set(); // ids this tab has heard of: only a new one gets a toast
let lastId = 0; // the newest notification id this tab has seen: resume point
let feed = []; // the popover's items, newest first (not archived), at most POPOVER_SIZE
let feedLoaded = false;

export const isRead = (notification) => Boolean(notification.read_at ?? notification.read);
const isSeen = (notification) => Boolean(notification.seen_at) || isRead(notification);

// The badge is hidden from screen readers: the bell's name carries the
// count ("Notifications, 3 new"), in the words the page was given
// (data-label-*, translated with it).
// A server that does not send `unseen_count` yet counts unread ones.
let counts = "unread_count";
function setBadge(frame) {
  if (frame.unseen_count !== undefined) counts = "unseen_count";
  const count = frame[counts];
  if (count === undefined) return;
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.dataset.count = String(count);
  badge.hidden = count === 0;
  const { labelNone, labelOne, labelMany } = bell.dataset;
  const label = count === 0 ? labelNone : count === 1 ? labelOne : labelMany.replace("{count}", String(count));
  bell.setAttribute("aria-label", label);
}

function emit(name, detail) {
  document.dispatchEvent(new CustomEvent(name, { detail }));
}

function pass(notification) {
  heard.add(notification.id);
  lastId = Math.max(lastId, notification.id);
  emit("pregon:notification", notification);
}

// --- Actions: through the socket when it is open, over HTTP otherwise. ---
// Either way the server tells every tab.

// Over HTTP the server still tells the user's other sockets, but not this
// tab's, which is away: its answer stands in for the frame (`echo`).
async function send(message, path, body, echo) {
  if (socket.send(message)) return;
  const { ok, data } = await api("POST", path, body);
  if (ok && data.ids?.length) {
    const { ids, unread_count, unseen_count } = data;
    handle({ type: echo, ids, unread_count, unseen_count, all: Boolean(body.all || body.read) });
  }
}

export function markRead(ids) {
  return send({ type: "notifications.mark_read", ids }, "/api/notifications/read", { ids }, "notifications.read");
}

export function markAllRead() {
  const message = { type: "notifications.mark_all_read" };
  return send(message, "/api/notifications/read", { all: true }, "notifications.read");
}

export function markSeen(body) {
  const message = { type: "notifications.mark_seen", ...body };
  return send(message, "/api/notifications/seen", body, "notifications.seen");
}

export function archive(body) {
  const message = { type: "notifications.archive", ...body };
  return send(message, "/api/notifications/archive", body, "notifications.archived");
}

export function unarchive(ids) {
  const message = { type: "notifications.unarchive", ids };
  return send(message, "/api/notifications/unarchive", { ids }, "notifications.unarchived");
}

// A click on a notification's link leaves the page: the request must outlive
// it (keepalive), and the link is followed at once.
export function markReadLeaving(notification) {
  if (isRead(notification)) return;
  fetch("/api/notifications/read", {
    method: "POST",
    keepalive: true,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify({ ids: [notification.id] }),
  });
}

export function linkOf(notification) {
  return notification.url || inboxUrl;
}

// --- Toasts: links, with a close button; at most MAX_TOASTS (the oldest goes). ---

function toast(notification) {
  const item = document.createElement("div");
  item.className = "toast";
  item.dataset.notificationId = notification.id;
  const link = document.createElement("a");
  link.href = linkOf(notification);
  const title = document.createElement("strong");
  title.textContent = notification.title;
  link.append(title);
  if (notification.body) {
    const body = document.createElement("span");
    body.className = "body";
    body.textContent = notification.body;
    link.append(body);
  }
  link.addEventListener("click", () => markReadLeaving(notification));
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.setAttribute("aria-label", interpolate(gettext("Dismiss: %s"), [notification.title]));
  close.append(document.getElementById("icon-x").content.cloneNode(true));
  close.addEventListener("click", () => item.remove());
  item.append(link, close);
  while (toasts.children.length >= MAX_TOASTS) toasts.firstElementChild.remove();
  toasts.append(item);
  // It stays while a pointer or the focus is on it (time to read and act).
  let timer;
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(() => item.remove(), TOAST_MS);
  };
  const hold = () => clearTimeout(timer);
  item.addEventListener("pointerenter", hold);
  item.addEventListener("pointerleave", later);
  item.addEventListener("focusin", hold);
  item.addEventListener("focusout", later);
  later();
}

// --- The popover: the latest items, "mark all read", "see all". ---

function feedItem(notification) {
  const li = document.createElement("li");
  li.dataset.notificationId = notification.id;
  li.className = isRead(notification) ? "read" : "unread";
  const link = document.createElement("a");
  link.href = linkOf(notification);
  if (!isRead(notification)) {
    const state = document.createElement("span");
    state.className = "visually-hidden";
    state.textContent = `${gettext("Unread")}: `;
    link.append(state);
  }
  const title = document.createElement("strong");
  title.textContent = notification.title;
  link.append(title);
  if (notification.body) {
    const body = document.createElement("span");
    body.className = "body";
    body.textContent = notification.body;
    link.append(body);
  }
  link.append(timeElement(notification.created_at));
  link.addEventListener("click", () => markReadLeaving(notification));
  li.append(link);
  return li;
}

function renderFeed() {
  if (!feedLoaded) return;
  // Drawn again while the focus is on an item: it stays on that item.
  const focused = feedList.contains(document.activeElement) ? document.activeElement.closest("li")?.dataset.notificationId : null;
  feedList.replaceChildren(...feed.map(feedItem));
  if (focused) (feedList.querySelector(`li[data-notification-id="${focused}"] a`) ?? popover).focus();
  feedEmpty.hidden = feed.length > 0;
  popover.querySelector("#bell-mark-all").hidden = !feed.some((n) => !isRead(n));
}

function feedAdd(notifications) {
  const known = new Map(feed.map((n) => [n.id, n]));
  for (const notification of notifications) {
    if (notification.archived_at) continue;
    known.set(notification.id, { ...known.get(notification.id), ...notification });
  }
  feed = [...known.values()].sort((a, b) => b.id - a.id).slice(0, POPOVER_SIZE);
  renderFeed();
}

function feedUpdate(ids, change) {
  const wanted = ids === "all" ? null : new Set(ids);
  feed = feed.map((n) => (wanted === null || wanted.has(n.id) ? { ...n, ...change } : n));
  renderFeed();
}

function feedDrop(ids) {
  const gone = new Set(ids);
  const before = feed.length;
  feed = feed.filter((n) => !gone.has(n.id));
  // Something left a full popover: an older item may belong in it now.
  if (before === POPOVER_SIZE && feed.length < before && isOpen()) loadFeed();
  else renderFeed();
}

async function loadFeed() {
  const { ok, data } = await api("GET", `/api/notifications?box=all&limit=${POPOVER_SIZE}`);
  if (!ok) return;
  feed = [];
  feedLoaded = true;
  feedAdd(data.results);
  setBadge(data);
}

const isOpen = () => !popover.hidden;

async function open() {
  popover.hidden = false;
  bell.setAttribute("aria-expanded", "true");
  popover.focus();
  refreshPushDevice().catch(() => null); // "notifications on this device": its own calls, not awaited
  await loadFeed();
  // What the popover shows is now seen: the badge clears in every tab.
  if (Number(badge.dataset.count) > 0 || feed.some((n) => !isSeen(n))) {
    setBadge({ unseen_count: 0 });
    markSeen({ all: true });
  }
}

function close({ focusBell = false } = {}) {
  if (!isOpen()) return;
  popover.hidden = true;
  bell.setAttribute("aria-expanded", "false");
  if (focusBell) bell.focus();
}

bell.addEventListener("click", () => (isOpen() ? close() : open()));
popover.querySelector(".popover-close").addEventListener("click", () => close({ focusBell: true }));
popover.querySelector("#bell-mark-all").addEventListener("click", () => markAllRead());
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && isOpen()) {
    event.preventDefault();
    close({ focusBell: popover.contains(document.activeElement) || document.activeElement === bell });
  }
});
// A click or a tap elsewhere closes it; so does the focus leaving it (Tab past its end).
document.addEventListener("pointerdown", (event) => {
  if (isOpen() && !popover.contains(event.target) && !bell.contains(event.target)) close();
});
popover.addEventListener("focusout", (event) => {
  const next = event.relatedTarget;
  if (next && !popover.contains(next) && next !== bell) close();
});

// --- The socket. ---

function handle(frame) {
  switch (frame.type) {
    case "notifications.unread":
      bell.dataset.state = "live"; // in step: what comes from now on is new (and toasted)
      setBadge(frame);
      emit("pregon:unread", frame);
      frame.notifications.forEach(pass);
      if (isOpen()) loadFeed();
      break;
    case "notifications.missed":
      setBadge(frame);
      frame.notifications.forEach(pass); // no toast for what came while away
      if (feedLoaded) feedAdd(frame.notifications);
      break;
    case "notification.created": {
      const notification = frame.notification;
      if (!heard.has(notification.id)) toast(notification);
      pass(notification);
      if (feedLoaded) feedAdd([notification]);
      if (isOpen()) {
        // Shown in the open popover: seen as it arrives.
        markSeen({ ids: [notification.id] });
        setBadge({ unseen_count: Math.max(0, (frame.unseen_count ?? 1) - 1) });
      } else {
        setBadge(frame);
      }
      break;
    }
    case "notifications.seen":
      setBadge(frame);
      feedUpdate(frame.all ? "all" : frame.ids, { seen_at: new Date().toISOString() });
      emit("pregon:seen", frame);
      break;
    case "notifications.read":
      setBadge(frame);
      feedUpdate(frame.all ? "all" : frame.ids, { read_at: new Date().toISOString(), read: true });
      emit("pregon:read", frame);
      break;
    case "notifications.archived":
      setBadge(frame);
      feedDrop(frame.ids);
      emit("pregon:archived", frame);
      break;
    case "notifications.unarchived":
      setBadge(frame);
      if (feedLoaded) feedAdd(frame.notifications ?? []);
      emit("pregon:unarchived", frame);
      break;
    case "notifications.counts":
      setBadge(frame);
      emit("pregon:counts", frame);
      break;
    case "notifications.removed":
      setBadge(frame);
      feedDrop(frame.ids);
      emit("pregon:removed", frame);
      break;
    case "order.changed":
      emit("pregon:order-changed", frame); // the order's page applies it (orders/order.js)
      break;
    case "error":
      console.warn("pregon notifications:", frame.code, frame.detail);
      break;
  }
}

const socket = new ReconnectingSocket(() => socketUrl(`/ws/notifications/${lastId ? `?after=${lastId}` : ""}`), {
  onFrame: handle,
  onState(state) {
    // "live" once the connect's unread list is in (above): an alert made
    // before it comes in that list, not as a toast.
    bell.dataset.state = state === "live" ? "opening" : state;
    emit("pregon:socket", { state });
  },
});

keepFresh();
socket.start();
