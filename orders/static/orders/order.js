// An order's page: its status, items and total, its status timeline and the
// store's comments, kept current without a reload.
//
// - The customer's page listens to their notifications socket, which the
//   bell keeps open on every page (alerts/bell.js re-emits its frames):
//   `pregon:order-changed` carries the server's `order.changed`, and every
//   (re)connect (`pregon:unread`) reloads the order over HTTP, so nothing
//   changed while the socket was away is missed.
// - Staff follow the store's stream from the position the page was rendered
//   at (`?after=`, gap-free, replayed on reconnect), filtered to this order,
//   with `presence=off`: reading one order is not watching the board.
//
// Changes can arrive twice (a reload and a frame, a replay and the page's
// own data): they are merged, never appended blindly — comments by id, the
// timeline by status (the status machine never returns to a status), the
// order by its `updated_at`.
//
// What the DOM exposes (tests and assistive tech read it):
//   #order[data-status]   the current status
//   #order[data-live]     "true" once the page is in step with a live socket
import { api } from "/static/ws/pregon-api.js";
import { StoreStream } from "/static/ws/pregon-socket.js";
import { itemNote, optionsText } from "/static/orders/line-items.js";

const page = JSON.parse(document.getElementById("order-data").textContent);
const root = document.getElementById("order");
const orderId = page.order.id;
const lang = document.documentElement.lang || "en";
const timeZone = document.documentElement.dataset.timeZone || undefined;
const STATUSES = Object.keys(page.labels);

let order = null; // the order's fields, as the newest change described them
const timeline = new Map(); // status → entry
const comments = new Map(); // id → comment

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== "") node.append(child);
  return node;
}

const dateFormat = (() => {
  try {
    return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short", timeZone });
  } catch {
    return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  }
})();

function when(iso) {
  return el("time", { datetime: iso }, dateFormat.format(new Date(iso)));
}

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(lang, { style: "currency", currency }).format(Number(amount));
  } catch {
    return `${amount} ${currency}`;
  }
}

// --- state -------------------------------------------------------------------------
function setOrder(next) {
  if (!order || Date.parse(next.updated_at) >= Date.parse(order.updated_at)) order = next;
}

function addEntry(entry) {
  timeline.set(entry.status, entry);
}

function addComment(comment) {
  comments.set(comment.id, comment);
}

function merge({ comments: said = [], timeline: steps = [], ...fields }) {
  setOrder(fields);
  said.forEach(addComment);
  steps.forEach(addEntry);
}

// --- the page ------------------------------------------------------------------------
function itemLine(item) {
  const options = optionsText(item.options);
  const note = itemNote(item);
  const price = item.unit_price === null || item.unit_price === undefined
    ? ""
    : money(Number(item.unit_price) * Number(item.quantity ?? 1), order.currency);
  return el("li", {},
    el("span", { class: "qty" }, `${item.quantity ?? 1} ×`),
    el("span", { class: "what" },
      el("span", { class: "name" }, item.name || item.sku || ""),
      options ? el("span", { class: "options" }, options) : "",
      note ? el("span", { class: "item-note" }, note) : ""),
    price ? el("span", { class: "price" }, price) : "");
}

function entryLabel(entry) {
  return entry.previous_status === null ? gettext("Order placed") : page.labels[entry.status] || entry.status;
}

function renderTimeline() {
  const steps = [...timeline.values()].sort(
    (a, b) => Date.parse(a.at) - Date.parse(b.at) || STATUSES.indexOf(a.status) - STATUSES.indexOf(b.status)
  );
  document.getElementById("timeline").replaceChildren(...steps.map((entry, index) =>
    el("li", {
      "data-status": entry.status,
      "aria-current": index === steps.length - 1 ? "step" : null,
    },
      el("span", { class: "dot", "aria-hidden": "true" }),
      el("span", { class: "step" },
        el("strong", {}, entryLabel(entry)), " ",
        when(entry.at),
        entry.reason ? el("span", { class: "reason" }, interpolate(gettext("Reason: %s"), [entry.reason])) : ""))));
}

function author(comment) {
  // Customers hear from the store; staff also see which colleague wrote.
  if (page.viewer === "staff" && comment.author) return `${page.store_name} · ${comment.author}`;
  return page.store_name;
}

function renderComments() {
  const said = [...comments.values()].sort((a, b) => a.id - b.id);
  document.getElementById("comments").replaceChildren(...said.map((comment) =>
    el("li", { "data-comment-id": comment.id },
      el("p", { class: "by" }, el("strong", {}, author(comment)), " ", when(comment.created_at)),
      el("p", { class: "body" }, comment.body))));
  document.getElementById("no-comments").hidden = said.length > 0;
}

function render() {
  const status = document.getElementById("status");
  status.textContent = page.labels[order.status] || order.status;
  status.dataset.status = order.status;
  root.dataset.status = order.status;
  const reason = document.getElementById("cancel-reason");
  reason.textContent = order.cancel_reason ? interpolate(gettext("Reason: %s"), [order.cancel_reason]) : "";
  reason.hidden = !(order.status === "cancelled" && order.cancel_reason);
  const items = order.line_items || [];
  document.getElementById("items").replaceChildren(
    ...(items.length ? items.map(itemLine) : [el("li", { class: "none muted" }, gettext("The shop sent no items."))]));
  const notes = document.getElementById("notes");
  notes.textContent = order.notes || "";
  notes.hidden = !order.notes;
  document.getElementById("total").textContent = money(order.total, order.currency);
  renderTimeline();
  renderComments();
}

const announcer = document.getElementById("order-announcer");
function announce(text) {
  announcer.textContent = text;
}

const connection = document.getElementById("connection");
const STATE_TEXT = {
  connecting: () => gettext("Connecting…"),
  live: () => gettext("Live"),
  offline: () => gettext("Reconnecting…"),
  refused: () => gettext("Not allowed"),
  closed: () => gettext("Closed"),
};
function showState(state) {
  connection.dataset.state = state;
  connection.textContent = (STATE_TEXT[state] || STATE_TEXT.offline)();
  if (state !== "live") root.dataset.live = "false";
}

// A change for this order, from either socket (the same shape: see docs/order-page.md).
function apply(next, change) {
  if (next.id !== orderId) return;
  setOrder(next);
  if (change.kind === "status" && change.entry) {
    addEntry(change.entry);
    announce(interpolate(gettext("Status: %s"), [page.labels[change.entry.status] || change.entry.status]));
  } else if (change.kind === "comment" && change.comment) {
    addComment(change.comment);
    announce(gettext("New comment from the store"));
  }
  render();
}

async function reload() {
  const { ok, data } = await api("GET", `/api/orders/${orderId}`);
  if (!ok) return false;
  merge(data);
  render();
  return true;
}

merge(page.order);
render();

if (page.viewer === "staff") {
  const stream = new StoreStream({
    storeId: page.order.store_id,
    lastSeq: page.latest_seq,
    presence: false,
    onEvent(frame) {
      const { order: next, previous_status: previous, comment } = frame.data;
      if (frame.type === "order.status_changed") {
        const reason = next.status === "cancelled" ? next.cancel_reason : "";
        apply(next, { kind: "status", entry: { status: next.status, previous_status: previous, at: next.updated_at, reason } });
      } else if (frame.type === "order.comment_added") {
        apply(next, { kind: "comment", comment });
      } else {
        apply(next, { kind: "updated" });
      }
    },
    onReset: async (frame) => {
      await reload();
      stream.moveTo(frame.latest_seq);
    },
    onState: showState,
    onFrame(frame) {
      if (frame.type === "stream.live") root.dataset.live = "true";
    },
  });
  stream.start();
} else {
  document.addEventListener("pregon:order-changed", (event) => apply(event.detail.order, event.detail.change));
  document.addEventListener("pregon:socket", (event) => showState(event.detail.state));
  // Every connect of the bell's socket: what changed while it was away.
  document.addEventListener("pregon:unread", async () => {
    if (await reload()) root.dataset.live = "true";
  });
}
