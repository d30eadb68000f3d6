// The inbox page: every notification (muted kinds included), newest first,
// read state kept live by the bell's socket, and the user's muted kinds.
//
// The list shows each notification once, by id, whichever way it came: the
// HTTP page or the bell's socket (`pregon:notification`: a connect's unread
// snapshot, what was missed while away, a live push); a copy that comes
// again only updates its read state. After a reconnect the page is read
// again over HTTP too: what was read or removed while the socket was away
// came in frames this tab never got.
import { markAllRead, markRead } from "/static/alerts/bell.js";
import { api } from "/static/ws/pregon-api.js";

const list = document.getElementById("inbox");
const onlyUnread = document.getElementById("only-unread");
const words = { markRead: list.dataset.markRead, unread: list.dataset.unread };
let loaded = false; // the first answer came: an empty list now means "nothing"
const items = new Map(); // notification id → its <li>
let heardWhileLoading = null; // what the socket said while a load was in flight
let connects = 0;

function render(notification) {
  const li = document.createElement("li");
  li.dataset.notificationId = notification.id;
  const head = document.createElement("div");
  head.className = "head";
  const title = document.createElement("strong");
  title.textContent = notification.title;
  const when = document.createElement("time");
  when.dateTime = notification.created_at;
  when.textContent = new Date(notification.created_at).toLocaleString();
  head.append(title, when);
  li.append(head);
  if (notification.body) {
    const body = document.createElement("p");
    body.textContent = notification.body;
    li.append(body);
  }
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = words.markRead;
  button.addEventListener("click", () => markRead([notification.id]));
  li.append(button);
  setState(li, notification.read);
  items.set(notification.id, li);
  return li;
}

// The class is the state (tests and styles read it); the hidden word says
// "unread" to those who cannot see the coloured edge.
function setState(li, read) {
  li.className = read ? "read" : "unread";
  li.querySelector(".state")?.remove();
  if (!read) {
    const state = document.createElement("span");
    state.className = "state visually-hidden";
    state.textContent = `${words.unread}: `;
    li.querySelector(".head").prepend(state);
  }
}

function showEmpty() {
  if (!loaded) return;
  const none = list.children.length === 0;
  document.getElementById("inbox-empty").hidden = !none || onlyUnread.checked;
  document.getElementById("inbox-empty-unread").hidden = !none || !onlyUnread.checked;
}

function show(notification) {
  const shown = items.get(notification.id);
  if (shown) {
    if (notification.read) setState(shown, true);
    return;
  }
  if (notification.read && onlyUnread.checked) return;
  // Newest first: before the first one that is older.
  const older = [...list.children].find((li) => Number(li.dataset.notificationId) < notification.id);
  list.insertBefore(render(notification), older ?? null);
  showEmpty();
}

function setRead(id) {
  const li = items.get(id);
  if (li) setState(li, true);
}

function remove(id) {
  items.get(id)?.remove();
  items.delete(id);
  showEmpty();
}

// Socket news is applied at once, and again on top of the answer of a load
// that was in flight when it came: that answer may have been read before it.
function heard(change) {
  change();
  heardWhileLoading?.push(change);
}

async function load() {
  const journal = [];
  heardWhileLoading = journal;
  try {
    const response = await fetch(`/api/notifications?page_size=100&unread=${onlyUnread.checked}`, {
      credentials: "same-origin",
    });
    const data = await response.json(); // a load that fails keeps the list as it is
    if (heardWhileLoading !== journal) return; // a newer load answers instead
    items.clear();
    list.replaceChildren();
    loaded = true;
    data.results.forEach(show);
    journal.forEach((change) => change());
    showEmpty();
  } finally {
    if (heardWhileLoading === journal) heardWhileLoading = null;
  }
}

document.addEventListener("pregon:unread", () => {
  connects += 1;
  if (connects > 1) load();
});
document.addEventListener("pregon:notification", (event) => heard(() => show(event.detail)));
document.addEventListener("pregon:read", (event) => {
  const { all, ids } = event.detail;
  // "All read" covers what existed then, not what a later answer adds.
  const upTo = Math.max(0, ...ids, ...items.keys());
  heard(() => (all ? [...items.keys()].filter((id) => id <= upTo) : ids).forEach(setRead));
});
document.addEventListener("pregon:removed", (event) => heard(() => event.detail.ids.forEach(remove)));
document.getElementById("mark-all").addEventListener("click", () => markAllRead());
onlyUnread.addEventListener("change", load);

// Preferences: muted kinds are stored and listed, never pushed or counted.
const form = document.getElementById("preferences");
async function loadPreferences() {
  const data = await (await fetch("/api/notifications/preferences", { credentials: "same-origin" })).json();
  form.querySelector(".kinds").replaceChildren(
    form.querySelector(".kinds legend"),
    ...Object.entries(data.kinds).map(([kind, { label, critical }]) => {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = "muted";
      box.value = kind;
      box.checked = data.muted_kinds.includes(kind);
      box.disabled = critical; // the tenant made it critical: it cannot be muted
      const wrapper = document.createElement("label");
      wrapper.append(box, ` ${label}`);
      return wrapper;
    })
  );
}
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const muted = [...form.querySelectorAll("input[name=muted]:checked:enabled")].map((box) => box.value);
  await api("PUT", "/api/notifications/preferences", { muted_kinds: muted });
  form.querySelector(".saved").textContent = document.getElementById("saved-text").content.textContent;
});

load();
loadPreferences();
