// The inbox page: tabs All / Unread / Archived, each newest first with a
// cursor "load more", kept live by the bell's socket.
//
// The list shows each notification once, by id, whichever way it came: an
// HTTP page or the bell's socket (`pregon:notification`: a connect's unread
// snapshot, what was missed while away, a live push). The cursor is an id
// (`next`: the last id of the pages read so far), so what arrives meanwhile
// never shifts it: an item belongs on the screen when it belongs in the tab
// and its id is above the cursor; one below it comes with a later page.
// After every connect the first page is read again over HTTP and merged in:
// what was read, archived or removed while the socket was away (or before
// it first joined) came in frames this tab never got; socket news heard
// while that answer is on its way is applied again on top of it.
import { archive, isRead, markAllRead, markRead, markReadLeaving, unarchive } from "/static/alerts/bell.js";
import { api } from "/static/ws/pregon-api.js";
import { timeElement } from "/static/alerts/when.js";

const PAGE_SIZE = 20;
const BOXES = ["all", "unread", "archived"];

const list = document.getElementById("inbox");
const moreButton = document.getElementById("load-more");
const status = document.getElementById("inbox-status");
const tabs = [...document.querySelectorAll(".inbox-tabs a[data-box]")];
const unreadBadge = document.getElementById("unread-count");

let box = list.dataset.box;
let next = null; // the cursor: the last id of the pages read (null: read to the end)
let loaded = false; // the first answer came: an empty list now means "nothing"
const shown = new Map(); // notification id → its <li>
const known = new Map(); // notification id → the newest copy this tab has of it
let heardWhileLoading = null; // what the socket said while a load was in flight

function belongs(notification) {
  if (box === "archived") return Boolean(notification.archived_at);
  if (notification.archived_at) return false;
  return box === "all" || !isRead(notification);
}

const inRange = (id) => next === null || id >= next;

function button(label, title, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  const hidden = document.createElement("span");
  hidden.className = "visually-hidden";
  hidden.textContent = `: ${title}`;
  element.append(label, hidden);
  element.addEventListener("click", onClick);
  return element;
}

function render(notification) {
  const li = document.createElement("li");
  li.dataset.notificationId = notification.id;
  const head = document.createElement("div");
  head.className = "head";
  const title = document.createElement("strong");
  title.textContent = notification.title;
  if (notification.url) {
    const link = document.createElement("a");
    link.href = notification.url;
    link.append(title);
    link.addEventListener("click", () => markReadLeaving(known.get(notification.id) ?? notification));
    head.append(link);
  } else {
    head.append(title);
  }
  li.append(head);
  if (notification.body) {
    const body = document.createElement("p");
    body.className = "body";
    body.textContent = notification.body;
    li.append(body);
  }
  const meta = document.createElement("p");
  meta.className = "meta";
  meta.append(timeElement(notification.created_at, { full: true }));
  li.append(meta);
  const actions = document.createElement("div");
  actions.className = "item-actions";
  const read = button(gettext("Mark read"), notification.title, () => markRead([notification.id]));
  read.className = "mark-read";
  const box = notification.archived_at
    ? button(gettext("Unarchive"), notification.title, () => unarchive([notification.id]))
    : button(gettext("Archive"), notification.title, () => archive({ ids: [notification.id] }));
  box.className = notification.archived_at ? "unarchive" : "archive";
  actions.append(read, box);
  li.append(actions);
  setState(li, isRead(notification));
  return li;
}

// The class is the state (tests and styles read it); the hidden word says
// "unread" to those who cannot see the coloured edge.
function setState(li, read) {
  li.classList.toggle("read", read);
  li.classList.toggle("unread", !read);
  li.querySelector(".state")?.remove();
  if (!read) {
    const state = document.createElement("span");
    state.className = "state visually-hidden";
    state.textContent = `${gettext("Unread")}: `;
    li.querySelector(".head").prepend(state);
  }
}

function showEmpty() {
  const none = loaded && list.children.length === 0 && next === null;
  document.querySelectorAll("[data-empty]").forEach((p) => (p.hidden = !none || p.dataset.empty !== box));
  moreButton.hidden = !loaded || next === null;
  // Nothing to act on in an empty tab; the Archived tab has its own buttons per item.
  document.getElementById("archive-read").hidden = box === "archived" || none;
  document.getElementById("mark-all").hidden = box === "archived" || none;
}

function remember(notification) {
  const copy = { ...known.get(notification.id), ...notification };
  known.set(notification.id, copy);
  return copy;
}

// Put it where it belongs (newest first), or take it away; a copy already
// shown gets its new state.
function place(notification) {
  const copy = remember(notification);
  const li = shown.get(copy.id);
  if (!belongs(copy) || !inRange(copy.id)) {
    if (li) drop(copy.id);
    return;
  }
  if (li) {
    setState(li, isRead(copy));
    return;
  }
  const element = render(copy);
  shown.set(copy.id, element);
  const older = [...list.children].find((other) => Number(other.dataset.notificationId) < copy.id);
  list.insertBefore(element, older ?? null);
  showEmpty();
}

function drop(id) {
  const li = shown.get(id);
  if (li?.contains(document.activeElement)) keepFocus(li);
  li?.remove();
  shown.delete(id);
  showEmpty();
}

// The item with the focus leaves (archived with its own button, or in
// another tab): the focus goes to the same button of its neighbour, not to
// the top of the page.
function keepFocus(li) {
  const active = document.activeElement;
  const same = active.matches("button[class]") ? `button.${active.className}` : "button";
  const neighbour = li.nextElementSibling ?? li.previousElementSibling;
  const target =
    (neighbour && (neighbour.querySelector(same) ?? neighbour.querySelector("button"))) ??
    document.querySelector(".inbox-tabs [aria-current]");
  target?.focus();
}

// `fields`: the new fields, or a function of the copy giving them.
function change(ids, fields) {
  for (const id of ids) {
    const copy = known.get(id);
    if (copy) place({ ...copy, ...(typeof fields === "function" ? fields(copy) : fields) });
  }
}

// Socket news is applied at once, and again on top of the answer of a load
// that was in flight when it came: that answer may have been read before it.
function heard(apply) {
  apply();
  heardWhileLoading?.push(apply);
}

async function fetchPage(before) {
  const query = new URLSearchParams({ box, limit: String(PAGE_SIZE) });
  if (before !== null) query.set("before", String(before));
  const response = await fetch(`/api/notifications?${query}`, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`inbox: ${response.status}`);
  return response.json();
}

// The first page of the tab, from scratch.
async function load() {
  const journal = [];
  heardWhileLoading = journal;
  try {
    const data = await fetchPage(null);
    if (heardWhileLoading !== journal) return; // a newer load answers instead
    shown.clear();
    list.replaceChildren();
    next = data.next;
    loaded = true;
    data.results.forEach(place);
    journal.forEach((apply) => apply());
    setUnread(data.unread_count);
    showEmpty();
  } finally {
    if (heardWhileLoading === journal) heardWhileLoading = null;
  }
}

// The first page again, merged into what is shown (a reconnect): what left
// the tab within its range goes, the rest is updated; the pages read with
// "load more" below it stay, and so does the cursor.
async function refresh() {
  if (!loaded) return load();
  const journal = [];
  heardWhileLoading = journal;
  try {
    const data = await fetchPage(null);
    if (heardWhileLoading !== journal) return; // a newer load answers instead
    const fresh = new Set(data.results.map((n) => n.id));
    const floor = data.next === null ? 0 : Math.min(...fresh);
    [...shown.keys()].filter((id) => id >= floor && !fresh.has(id)).forEach(drop);
    data.results.forEach(place);
    journal.forEach((apply) => apply());
    setUnread(data.unread_count);
    showEmpty();
  } finally {
    if (heardWhileLoading === journal) heardWhileLoading = null;
  }
}

async function loadMore() {
  if (next === null) return;
  moreButton.disabled = true;
  list.setAttribute("aria-busy", "true");
  try {
    const before = next;
    const data = await fetchPage(before);
    if (next !== before) return; // the tab was read again meanwhile
    next = data.next;
    const added = data.results.filter((n) => !shown.has(n.id));
    data.results.forEach(place);
    status.textContent = interpolate(ngettext("%s more loaded.", "%s more loaded.", added.length), [added.length]);
    showEmpty();
  } finally {
    moreButton.disabled = false;
    list.removeAttribute("aria-busy");
  }
}

function setUnread(count) {
  if (count === undefined || count === null) return;
  unreadBadge.textContent = count > 0 ? String(count) : "";
  unreadBadge.hidden = count === 0;
}

function select(name, { push = true } = {}) {
  box = BOXES.includes(name) ? name : "all";
  list.dataset.box = box;
  tabs.forEach((tab) => {
    if (tab.dataset.box === box) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  });
  if (push) history.pushState({ box }, "", box === "all" ? location.pathname : `?box=${box}`);
  loaded = false;
  next = null;
  shown.clear();
  list.replaceChildren();
  showEmpty();
  load();
}

tabs.forEach((tab) =>
  tab.addEventListener("click", (event) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return; // a new tab: let it
    event.preventDefault();
    if (tab.dataset.box !== box) select(tab.dataset.box);
  })
);
window.addEventListener("popstate", () => select(new URLSearchParams(location.search).get("box") ?? "all", { push: false }));

// Every connect (the first too) reads the tab's first page again: the
// page's first read may have been answered before a change that the
// socket, not yet joined, never heard (a link clicked on the page before
// marks its alert read as the next page loads). The socket joins before its
// first frame, so what changes after this read starts comes as a frame,
// applied on top of it. Merged, not reset: a "load more" clicked meanwhile
// keeps its page.
document.addEventListener("pregon:unread", (event) => {
  setUnread(event.detail.unread_count);
  refresh();
});
document.addEventListener("pregon:notification", (event) => heard(() => place(event.detail)));
document.addEventListener("pregon:read", (event) => {
  const { all, ids, unread_count: count } = event.detail;
  setUnread(count);
  const now = new Date().toISOString();
  // "All read" covers what existed then, not what a later answer adds.
  const upTo = Math.max(0, ...ids, ...known.keys());
  heard(() => change(all ? [...known.keys()].filter((id) => id <= upTo) : ids, { read_at: now, read: true }));
});
document.addEventListener("pregon:archived", (event) => {
  const { all, ids, unread_count: count } = event.detail;
  setUnread(count);
  const now = new Date().toISOString();
  // Archived is read too. "Archive all read" covers the read ones of then
  // (its `ids` may be cut short).
  const upTo = Math.max(0, ...ids, ...known.keys());
  const readThen = all ? [...known.values()].filter((n) => n.id <= upTo && isRead(n)).map((n) => n.id) : [];
  heard(() => change([...ids, ...readThen], (copy) => ({ archived_at: now, read_at: copy.read_at ?? now, read: true })));
  // The Archived tab may not have this tab's copy of them: read its top again.
  if (box === "archived" && ids.some((id) => !known.has(id) && inRange(id))) load();
});
document.addEventListener("pregon:unarchived", (event) => {
  const { ids, unread_count: count, notifications = [] } = event.detail;
  setUnread(count);
  heard(() => {
    notifications.forEach(place);
    change(ids, { archived_at: null });
  });
});
document.addEventListener("pregon:counts", (event) => setUnread(event.detail.unread_count));
document.addEventListener("pregon:removed", (event) => {
  setUnread(event.detail.unread_count);
  heard(() => event.detail.ids.forEach(drop));
});
document.getElementById("mark-all").addEventListener("click", () => markAllRead());
document.getElementById("archive-read").addEventListener("click", () => archive({ read: true }));
moreButton.addEventListener("click", loadMore);

select(box, { push: false });
