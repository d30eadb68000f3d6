// The bell on every page: a live unread badge and a toast per new alert.
// One notifications socket per tab. Every tab of the user gets the server's
// `notifications.read` (with the new unread count), so badges agree.
//
// For the page (the inbox listens): `pregon:unread` at every connect, then
// `pregon:notification` for every notification the socket brings, whichever
// frame it came in (the connect's unread snapshot, what was missed while
// away, a live push), read or not. The same id can come twice (a reconnect
// sends it in the snapshot and in `missed`; the server joins before it
// reads, so a live push can repeat the snapshot): listeners deduplicate by
// id. The bell's memory of ids only keeps it from toasting twice; it never
// decides what a listener shows. `pregon:socket` tells the socket's state
// (connecting, live, offline…); `pregon:order-changed`, an order's change
// for the order's page.
import { api } from "/static/ws/pregon-api.js";
import { ReconnectingSocket, socketUrl } from "/static/ws/pregon-socket.js";

const bell = document.getElementById("bell");
const badge = document.getElementById("bell-count");
const toasts = document.getElementById("toasts");
const seen = new Set(); // ids this tab has heard of: only a new one gets a toast
let lastId = 0; // the newest notification id this tab has seen: resume point

// The badge is hidden from screen readers: the bell's name carries the
// count ("Notifications, 3 unread"), in the words the page was given
// (data-label-*, translated with it).
function setBadge(count) {
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
  seen.add(notification.id);
  lastId = Math.max(lastId, notification.id);
  emit("pregon:notification", notification);
}

function toast(notification) {
  const item = document.createElement("div");
  item.className = "toast";
  item.setAttribute("role", "status");
  item.dataset.notificationId = notification.id;
  const title = document.createElement("strong");
  title.textContent = notification.title;
  item.append(title);
  if (notification.body) {
    const body = document.createElement("p");
    body.textContent = notification.body;
    item.append(body);
  }
  item.addEventListener("click", () => item.remove());
  toasts.append(item);
  setTimeout(() => item.remove(), 8000);
}

const socket = new ReconnectingSocket(
  () => socketUrl(`/ws/notifications/${lastId ? `?after=${lastId}` : ""}`),
  {
    onFrame(frame) {
      switch (frame.type) {
        case "notifications.unread":
          setBadge(frame.unread_count);
          emit("pregon:unread", frame);
          frame.notifications.forEach(pass);
          break;
        case "notifications.missed":
          setBadge(frame.unread_count);
          frame.notifications.forEach(pass); // no toast for what came while away
          break;
        case "notification.created":
          setBadge(frame.unread_count);
          if (!seen.has(frame.notification.id)) toast(frame.notification);
          pass(frame.notification);
          break;
        case "notifications.read":
          setBadge(frame.unread_count);
          emit("pregon:read", frame);
          break;
        case "notifications.removed":
          setBadge(frame.unread_count);
          emit("pregon:removed", frame);
          break;
        case "order.changed":
          emit("pregon:order-changed", frame); // the order's page applies it (orders/order.js)
          break;
        case "error":
          console.warn("pregon notifications:", frame.code, frame.detail);
          break;
      }
    },
    onState(state) {
      bell.dataset.state = state;
      emit("pregon:socket", { state });
    },
  }
);

async function post(body) {
  await api("POST", "/api/notifications/read", body);
}

// Through the socket when it is open; over HTTP otherwise. Either way the
// server tells every tab.
export function markRead(ids) {
  if (!socket.send({ type: "notifications.mark_read", ids })) return post({ ids });
}

export function markAllRead() {
  if (!socket.send({ type: "notifications.mark_all_read" })) return post({ all: true });
}

socket.start();
