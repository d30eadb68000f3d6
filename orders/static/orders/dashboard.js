// The live order board of one store. State comes from the page (the same
// payloads the stream sends, with each order's latest comments); the stream
// keeps it current. Every string shown comes from the page (board.text),
// translated there, but for one plural (gettext's ngettext, from /jsi18n/);
// money and times through Intl in the page's language and the tenant's zone.
//
// What the DOM exposes (tests and assistive tech read it):
//   #board[data-alerting]      "true" while any order waits to be accepted
//   #board[data-new-count]     how many orders wait to be accepted
//   #board[data-sounds-played] chimes actually played since the page loaded
//   #board[data-sound]         on | blocked (autoplay: needs a click) | off (store setting) | pending
import { api } from "/static/ws/pregon-api.js";
import { StoreStream } from "/static/ws/pregon-socket.js";
import { itemNote, optionsText } from "/static/orders/line-items.js";
import { dateTime, money, time } from "/static/platform_core/format.js";

const board = JSON.parse(document.getElementById("board-data").textContent);
const T = board.text;
const settings = board.settings;
const FINAL = new Set(["completed", "cancelled"]);
const NEW = "new";

const root = document.getElementById("board");
const indicator = document.getElementById("connection");
const countdown = document.getElementById("retry-countdown");
const retryButton = document.getElementById("retry-now");
const lastEvent = document.getElementById("last-event");
const presenceList = document.getElementById("presence");
const announcer = document.getElementById("announcer");
const errorLine = document.getElementById("board-error");
const soundButton = document.getElementById("enable-sound");
const desktopButton = document.getElementById("desktop-alerts");
const cancelDialog = document.getElementById("cancel-dialog");
const finished = document.getElementById("finished");
const baseTitle = document.title;

const orders = new Map(); // id → order, as the stream last described it
const comments = new Map(); // id → its latest comments, oldest first
const recalled = new Set(); // finished orders brought back into view
const drafts = new Map(); // id → a comment being typed (survives a card's redraw)
const cards = new Map(); // id → { node, signature }
for (const { comments: said, ...order } of board.orders) {
  orders.set(order.id, order);
  comments.set(order.id, said || []);
}

// Ages count from the server's clock: a kitchen tablet's clock may be off.
const clockOffset = Date.parse(board.server_now) - Date.now();
const serverNow = () => Date.now() + clockOffset;

const format = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== "") node.append(child);
  return node;
}

function showError(data) {
  const fields = data.error && data.error.fields ? Object.values(data.error.fields).join("; ") : "";
  const detail = ((data.error && data.error.message) || "") + (fields ? ` (${fields})` : "");
  errorLine.textContent = format(T.error, { detail });
  errorLine.hidden = false;
}

async function post(path, body) {
  const { ok, data } = await api("POST", path, body);
  if (ok) errorLine.hidden = true;
  else showError(data);
  return ok;
}

// --- the card ----------------------------------------------------------------------
// "1.5 × Pizza (size: L)" (line-items.js reads the options and the note).
function itemLine(item) {
  const options = optionsText(item.options);
  const note = itemNote(item);
  return el("li", {},
    el("span", { class: "qty" }, `${item.quantity ?? 1} ×`), " ",
    el("span", { class: "name" }, item.name || item.sku || ""),
    options ? el("span", { class: "options" }, ` (${options})`) : "",
    note ? el("span", { class: "item-note" }, note) : "");
}

function ageText(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function slaLevel(ms) {
  const minutes = ms / 60000;
  if (minutes >= settings.sla_late_minutes) return "late";
  if (minutes >= settings.sla_warn_minutes) return "warn";
  return "ok";
}

function updateAge(node) {
  const age = serverNow() - Date.parse(node.dataset.createdAt);
  node.textContent = ageText(age);
  node.dataset.sla = slaLevel(age);
}

function actionButtons(order, titleId) {
  return board.transitions[order.status].map((status) => {
    const cancel = status === "cancelled";
    return el("button", {
      type: "button",
      class: cancel ? "cancel" : "primary",
      "data-status": status,
      "aria-describedby": titleId,
      onclick: (event) => (cancel ? askCancel(order) : changeStatus(order.id, status, event.currentTarget)),
    }, T.actions[status]);
  });
}

function commentForm(order) {
  const input = el("input", {
    name: "body", placeholder: T.comment_placeholder, maxlength: "2000", "aria-label": T.comment, autocomplete: "off",
  });
  input.value = drafts.get(order.id) || "";
  input.addEventListener("input", () => drafts.set(order.id, input.value));
  const form = el("form", { class: "comment" }, input, el("button", { type: "submit" }, T.send));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!input.value.trim()) return;
    if (await post(`/api/orders/${order.id}/comments`, { body: input.value })) {
      drafts.delete(order.id);
      input.value = "";
    }
  });
  return form;
}

function card(order) {
  const titleId = `order-${order.id}-title`;
  const said = (comments.get(order.id) || []).slice(-5);
  const open = !FINAL.has(order.status);
  const customer = order.customer_name || order.customer || "";
  return el("article", {
    id: `order-${order.id}`,
    class: "order" + (order.status === NEW ? " alerting" : ""),
    "data-order-id": order.id,
    "data-external-id": order.external_id,
    "data-alerting": order.status === NEW ? "true" : "false",
    "aria-labelledby": titleId,
  },
    el("header", {},
      el("h3", { id: titleId }, el("a", { href: `/orders/${order.id}/` }, `#${order.external_id}`)),
      open
        // The age counts up; the title says when it came in (the reader's format, the tenant's zone).
        ? el("time", { class: "age", datetime: order.created_at, "data-created-at": order.created_at, title: dateTime(order.created_at) })
        : el("span", { class: "final", "data-status": order.status }, board.labels[order.status])),
    el("p", { class: "meta" },
      el("span", { class: "customer" }, customer),
      el("span", { class: "total" }, money(order.total, order.currency))),
    (order.line_items || []).length ? el("ul", { class: "items" }, ...order.line_items.map(itemLine)) : "",
    order.notes ? el("p", { class: "notes" }, order.notes) : "",
    order.cancel_reason ? el("p", { class: "reason" }, format(T.reason, { reason: order.cancel_reason })) : "",
    said.length ? el("ul", { class: "comments" }, ...said.map((c) => el("li", {}, `${c.author || "—"}: ${c.body}`))) : "",
    open ? el("div", { class: "actions" }, ...actionButtons(order, titleId)) : "",
    recalled.has(order.id) ? el("div", { class: "actions" },
      el("button", { type: "button", "aria-describedby": titleId, onclick: () => { recalled.delete(order.id); render(); } }, T.hide)) : "",
    commentForm(order));
}

// The card of `order`, redrawn only when what it shows changed: a redraw
// would take the focus (and the caret) from someone typing a comment.
function cardFor(order) {
  const said = comments.get(order.id) || [];
  const signature = [order.updated_at, order.status, said.length && said[said.length - 1].id, recalled.has(order.id)].join("|");
  const known = cards.get(order.id);
  if (known && known.signature === signature) return known.node;
  const node = card(order);
  const age = node.querySelector(".age");
  if (age) updateAge(age);
  if (known) {
    const focused = known.node.contains(document.activeElement) && document.activeElement.name === "body";
    known.node.replaceWith(node);
    if (focused) node.querySelector("input[name=body]").focus();
  }
  cards.set(order.id, { node, signature });
  return node;
}

// Put `nodes` in `container` in this order, moving only what is out of place.
function place(container, nodes) {
  nodes.forEach((node, index) => {
    if (container.children[index] !== node) container.insertBefore(node, container.children[index] || null);
  });
  while (container.children.length > nodes.length) container.lastElementChild.remove();
}

// --- the board -------------------------------------------------------------------------
function render() {
  const byStatus = new Map(board.statuses.map((s) => [s, []]));
  for (const order of orders.values()) byStatus.get(order.status)?.push(order);
  for (const column of root.querySelectorAll(".column")) {
    const status = column.dataset.status;
    // Oldest first: the order that has waited longest is the next one to do.
    const shown = status === "recalled"
      ? [...recalled].map((id) => orders.get(id)).filter(Boolean)
      : (byStatus.get(status) || []).sort((a, b) => a.id - b.id);
    if (status === "recalled") column.hidden = shown.length === 0;
    const container = column.querySelector(".cards");
    place(container, shown.length ? shown.map(cardFor) : [el("p", { class: "empty muted" }, T.no_orders)]);
  }
  for (const id of cards.keys()) {
    const order = orders.get(id);
    if (!order || (FINAL.has(order.status) && !recalled.has(id))) cards.delete(id);
  }
  for (const badge of document.querySelectorAll("[data-count-of]")) {
    badge.textContent = String((byStatus.get(badge.dataset.countOf) || []).length);
  }
  renderFinished(byStatus);
  updateAlert();
}

function renderFinished(byStatus) {
  const done = [...byStatus.get("completed"), ...byStatus.get("cancelled")]
    .sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at))
    .slice(0, 50);
  finished.querySelector(".finished-list").replaceChildren(...done.map((order) =>
    el("li", { "data-order-id": order.id, "data-status": order.status },
      el("span", { class: "ref" }, `#${order.external_id}`),
      el("span", { class: "status" }, board.labels[order.status]),
      el("span", { class: "muted" }, order.customer_name || order.customer || ""),
      el("button", {
        type: "button",
        "aria-label": `${T.recall} #${order.external_id}`,
        disabled: recalled.has(order.id),
        onclick: () => recall(order.id),
      }, T.recall))));
}

function recall(id) {
  recalled.add(id);
  render();
  const node = cards.get(id)?.node;
  if (node) {
    node.scrollIntoView({ block: "nearest" });
    node.querySelector("button")?.focus();
  }
}

async function changeStatus(id, status, button) {
  button.disabled = true;
  const ok = await post(`/api/orders/${id}/status`, { status });
  if (!ok) button.disabled = false; // on success the stream redraws the card
}

let cancelling = null;
function askCancel(order) {
  cancelling = order;
  document.getElementById("cancel-ref").textContent = `#${order.external_id}`;
  cancelDialog.querySelector("textarea").value = "";
  cancelDialog.returnValue = "";
  cancelDialog.showModal();
}
cancelDialog.addEventListener("close", async () => {
  const order = cancelling;
  cancelling = null;
  if (!order || cancelDialog.returnValue !== "cancel") return;
  const reason = cancelDialog.querySelector("textarea").value.trim();
  await post(`/api/orders/${order.id}/status`, reason ? { status: "cancelled", reason } : { status: "cancelled" });
});

// Columns become a switch on a narrow screen (the stylesheet shows one column).
for (const button of document.querySelectorAll(".column-switch button")) {
  button.addEventListener("click", () => {
    root.dataset.shown = button.dataset.show;
    for (const other of document.querySelectorAll(".column-switch button")) {
      other.setAttribute("aria-pressed", String(other === button));
    }
  });
}

// --- calling for attention: sound, title, desktop, screen readers ---------------------------
let audio = null;
let repeatTimer = null;

function audioContext() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!audio && Context) {
    audio = new Context();
    audio.addEventListener("statechange", updateSound);
  }
  return audio;
}

function updateSound() {
  if (!settings.sound_enabled) return (root.dataset.sound = "off");
  const running = audio && audio.state === "running";
  const unlocked = running && root.dataset.sound !== "on";
  root.dataset.sound = running ? "on" : "blocked";
  soundButton.dataset.sound = root.dataset.sound;
  // Sound just became possible while orders wait: let them be heard now.
  if (unlocked && root.dataset.alerting === "true") chime();
}

// Any click or key on the page counts as the gesture the browser asks for
// (the sound button's own click decides for itself: unlock, or test).
function unlockAudio(event) {
  if (event && event.target instanceof Node && soundButton?.contains(event.target)) return;
  const context = audioContext();
  if (context && context.state !== "running") context.resume().catch(() => {}).finally(updateSound);
}

function tone(context, frequency, start, duration) {
  const oscillator = context.createOscillator();
  const gain = context.createGain();
  oscillator.type = "sine";
  oscillator.frequency.value = frequency;
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.4, start + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + duration);
  oscillator.connect(gain).connect(context.destination);
  oscillator.start(start);
  oscillator.stop(start + duration + 0.05);
}

function chime() {
  if (!settings.sound_enabled || !audio || audio.state !== "running") return updateSound();
  const start = audio.currentTime + 0.01;
  tone(audio, 880, start, 0.18);
  tone(audio, 1320, start + 0.2, 0.3);
  root.dataset.soundsPlayed = String(Number(root.dataset.soundsPlayed) + 1);
}

// The chime repeats while any order waits; accepting the last one, on any
// board, stops it everywhere (the status change arrives on the stream).
function updateAlert({ ring = false } = {}) {
  const waiting = [...orders.values()].filter((o) => o.status === NEW).length;
  root.dataset.alerting = String(waiting > 0);
  root.dataset.newCount = String(waiting);
  document.title = waiting ? format(T.title_count, { count: waiting, title: baseTitle }) : baseTitle;
  for (const button of document.querySelectorAll('.column-switch [data-show="new"]')) {
    button.classList.toggle("alerting", waiting > 0);
  }
  if (!waiting) {
    clearInterval(repeatTimer);
    repeatTimer = null;
    return;
  }
  if (ring || repeatTimer === null) {
    if (ring) chime();
    clearInterval(repeatTimer);
    repeatTimer = setInterval(chime, settings.sound_repeat_seconds * 1000);
  }
}

function announce(text) {
  announcer.append(el("p", {}, text));
  while (announcer.children.length > 3) announcer.firstElementChild.remove();
}

const DESKTOP_KEY = `pregon.desktop-alerts.${board.store_id}`;
function desktopEnabled() {
  return "Notification" in window && Notification.permission === "granted" && localStorage.getItem(DESKTOP_KEY) !== "off";
}

function updateDesktopButton() {
  if (!("Notification" in window)) return;
  desktopButton.hidden = false;
  const denied = Notification.permission === "denied";
  desktopButton.disabled = denied;
  desktopButton.setAttribute("aria-pressed", String(desktopEnabled()));
  desktopButton.querySelector("span").textContent = denied ? T.desktop_blocked : desktopEnabled() ? T.desktop_on : desktopButton.dataset.label;
}

desktopButton.dataset.label = desktopButton.querySelector("span").textContent;
desktopButton.addEventListener("click", async () => {
  // Permission is asked for only here, on a click: never on page load.
  if (Notification.permission === "default") {
    await Notification.requestPermission();
    localStorage.removeItem(DESKTOP_KEY);
  } else if (Notification.permission === "granted") {
    localStorage.setItem(DESKTOP_KEY, desktopEnabled() ? "off" : "on");
  }
  updateDesktopButton();
});

// "3 productos · 18,50 €": the one plural the script words itself (djangojs catalog).
function itemsAndTotal(order) {
  const count = (order.line_items || []).length;
  const text = ngettext("%(count)s item · %(total)s", "%(count)s items · %(total)s", count);
  return interpolate(text, { count, total: money(order.total, order.currency) }, true);
}

function tellDesktop(order) {
  if (!desktopEnabled() || (document.visibilityState === "visible" && document.hasFocus())) return;
  const notification = new Notification(format(T.notification_title, { ref: `#${order.external_id}` }), {
    body: [order.customer_name || order.customer, itemsAndTotal(order)].filter(Boolean).join(" — "),
    tag: `order-${order.id}`,
  });
  notification.addEventListener("click", () => window.focus());
}

// --- the stream -------------------------------------------------------------------------
function apply(frame) {
  const order = frame.data.order;
  if (frame.data.comment) {
    comments.set(order.id, [...(comments.get(order.id) || []), frame.data.comment].slice(-20));
  }
  orders.set(order.id, order);
  render();
  if (frame.type === "order.created" && order.status === NEW) {
    const customer = order.customer_name || order.customer;
    announce(format(customer ? T.announce_new_for : T.announce_new, { ref: `#${order.external_id}`, customer }));
    updateAlert({ ring: true });
    tellDesktop(order);
  }
}

async function reload() {
  const response = await fetch(`/api/stores/${board.store_id}/orders?page_size=100`, { credentials: "same-origin" });
  if (!response.ok) return;
  const data = await response.json();
  orders.clear();
  for (const { comments: said, ...order } of data.results) {
    orders.set(order.id, order);
    comments.set(order.id, said || []);
  }
  stream.moveTo(data.latest_seq);
  render();
}

function updateCountdown() {
  const at = stream.retryAt;
  if (indicator.dataset.state !== "offline" || at === null) return;
  countdown.textContent = format(T.retry_in, { seconds: Math.max(0, Math.ceil((at - Date.now()) / 1000)) });
}

let wasOffline = false;
const stream = new StoreStream({
  storeId: board.store_id,
  lastSeq: board.latest_seq,
  onEvent: apply,
  onReset: reload,
  onFrame: () => {
    lastEvent.textContent = format(T.last_event, { time: time(new Date()) });
  },
  onPresence: (users) => presenceList.replaceChildren(...users.map((u) =>
    el("li", { "data-user-id": u.id, class: u.username === board.user ? "me" : undefined }, u.username))),
  onState: (state) => {
    indicator.dataset.state = state;
    wasOffline = state === "offline" || (state === "connecting" && wasOffline);
    indicator.textContent = state === "connecting" && wasOffline ? T.retrying : T.state[state] || state;
    countdown.hidden = state !== "offline";
    retryButton.hidden = !wasOffline;
    retryButton.disabled = state !== "offline";
    updateCountdown();
  },
});
retryButton.addEventListener("click", () => stream.retryNow());

// One clock for everything that counts seconds: ages and the retry countdown.
setInterval(() => {
  for (const age of root.querySelectorAll(".age")) updateAge(age);
  updateCountdown();
}, 1000);

if (settings.sound_enabled) {
  soundButton.addEventListener("click", () => (audio && audio.state === "running" ? chime() : unlockAudio()));
  document.addEventListener("pointerdown", unlockAudio);
  document.addEventListener("keydown", unlockAudio);
  audioContext();
  // A browser that allows sound starts the context by itself, shortly;
  // one that does not leaves it suspended: then the prompt shows.
  setTimeout(updateSound, 300);
} else {
  updateSound();
}
updateDesktopButton();
render();
// A link to one order (`/stores/1/#order-42`, as in the unattended-board
// alert): the cards are drawn by this script, after the browser looked for it.
const linked = location.hash.match(/^#order-(\d+)$/);
if (linked) {
  const id = Number(linked[1]);
  const status = orders.get(id)?.status;
  if (FINAL.has(status)) recall(id);
  else document.querySelector(`.column-switch [data-show="${status}"]`)?.click(); // a phone shows one column
  document.getElementById(`order-${id}`)?.scrollIntoView({ block: "center" });
}
stream.start();
