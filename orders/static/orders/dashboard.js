// The live order board of one store. State comes from the page (the same
// payloads the stream sends); the stream keeps it current.
import { api } from "/static/ws/pregon-api.js";
import { StoreStream } from "/static/ws/pregon-socket.js";

const board = JSON.parse(document.getElementById("board-data").textContent);
const orders = new Map(board.orders.map((order) => [order.id, order]));
const comments = new Map(); // order id → latest comments (from the stream)
const fresh = new Set();
const root = document.getElementById("board");
const indicator = document.getElementById("connection");
const presenceList = document.getElementById("presence");
const OPEN_STATUSES = board.statuses;

async function post(path, body) {
  const { ok, data } = await api("POST", path, body);
  if (!ok) {
    const fields = data.error && data.error.fields ? Object.values(data.error.fields).join("; ") : "";
    alert((data.error && data.error.message) + (fields ? ` (${fields})` : ""));
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// "1.5 × Pizza (size: L)". Options are any JSON the shop sent: a list of
// {name, value} reads as "name: value"; anything else is shown as JSON.
// Items stored before the line item schema may lack any field.
function optionsText(options) {
  if (options === null || options === undefined || options === "") return "";
  if (typeof options === "string") return options;
  const pairs = Array.isArray(options) && options.every((o) => o && typeof o === "object" && "name" in o && "value" in o);
  if (!pairs) return JSON.stringify(options);
  return options.map((o) => `${o.name}: ${typeof o.value === "object" ? JSON.stringify(o.value) : o.value}`).join(", ");
}

function itemLine(item) {
  const options = optionsText(item.options);
  return el("li", {}, `${item.quantity ?? 1} × ${item.name || item.sku || ""}` + (options ? ` (${options})` : ""));
}

function card(order) {
  const actions = board.transitions[order.status].map((status) =>
    el("button", { type: "button", "data-status": status, onclick: () => post(`/api/orders/${order.id}/status`, { status }) },
      board.labels[status])
  );
  const form = el("form", { class: "comment" },
    el("input", { name: "body", placeholder: "Comment…", maxlength: "2000", "aria-label": "Comment" }),
    el("button", { type: "submit" }, "Send"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = form.elements.body;
    if (!input.value.trim()) return;
    await post(`/api/orders/${order.id}/comments`, { body: input.value });
    input.value = "";
  });
  const said = (comments.get(order.id) || []).map((c) => el("li", {}, `${c.author || "—"}: ${c.body}`));
  return el("article", { class: "order" + (fresh.has(order.id) ? " fresh" : ""), "data-order-id": order.id, "data-external-id": order.external_id },
    el("header", {}, el("strong", {}, `#${order.external_id}`), el("span", {}, `${order.total} ${order.currency}`)),
    (order.line_items || []).length ? el("ul", { class: "items" }, ...order.line_items.map(itemLine)) : "",
    el("p", { class: "customer" }, order.customer || ""),
    order.notes ? el("p", { class: "notes" }, order.notes) : "",
    el("ul", { class: "comments" }, ...said),
    el("div", { class: "actions" }, ...actions),
    form);
}

function render() {
  root.replaceChildren(...OPEN_STATUSES.map((status) => {
    const column = [...orders.values()].filter((o) => o.status === status).sort((a, b) => b.id - a.id);
    return el("section", { class: "column", "data-status": status },
      el("h2", {}, `${board.labels[status]} (${column.length})`), ...column.map(card));
  }));
}

function apply(frame) {
  const order = frame.data.order;
  if (frame.type === "order.created") {
    fresh.add(order.id);
    setTimeout(() => { fresh.delete(order.id); render(); }, 8000);
  }
  if (frame.type === "order.comment_added" && frame.data.comment) {
    comments.set(order.id, [...(comments.get(order.id) || []), frame.data.comment].slice(-3));
  }
  orders.set(order.id, order);
  render();
}

async function reload(frame) {
  const response = await fetch(`/api/stores/${board.store_id}/orders?page_size=100`, { credentials: "same-origin" });
  if (!response.ok) return;
  const data = await response.json();
  orders.clear();
  for (const order of data.results) orders.set(order.id, order);
  stream.moveTo(data.latest_seq);
  render();
}

const labels = { connecting: "Connecting…", live: "Live", offline: "Offline — reconnecting", refused: "Not allowed", closed: "Closed" };
const stream = new StoreStream({
  storeId: board.store_id,
  lastSeq: board.latest_seq,
  onEvent: apply,
  onReset: reload,
  onPresence: (users) => presenceList.replaceChildren(...users.map((u) => el("li", { "data-user-id": u.id }, u.username))),
  onState: (state) => {
    indicator.textContent = labels[state] || state;
    indicator.dataset.state = state;
  },
});
render();
stream.start();
