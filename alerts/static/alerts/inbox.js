// The inbox page: every notification (muted kinds included), read state kept
// live by the bell's socket, and the user's muted kinds.
import { markAllRead, markRead } from "/static/alerts/bell.js";
import { api } from "/static/ws/pregon-api.js";

const list = document.getElementById("inbox");
const onlyUnread = document.getElementById("only-unread");
const items = new Map();

function render(notification) {
  const li = document.createElement("li");
  li.dataset.notificationId = notification.id;
  li.className = notification.read ? "read" : "unread";
  const title = document.createElement("strong");
  title.textContent = notification.title;
  const when = document.createElement("time");
  when.dateTime = notification.created_at;
  when.textContent = new Date(notification.created_at).toLocaleString();
  const body = document.createElement("p");
  body.textContent = notification.body;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Mark read";
  button.addEventListener("click", () => markRead([notification.id]));
  li.append(title, " ", when, body, button);
  items.set(notification.id, li);
  return li;
}

function setRead(id) {
  const li = items.get(id);
  if (li) li.className = "read";
}

async function load() {
  const response = await fetch(`/api/notifications?page_size=100&unread=${onlyUnread.checked}`, { credentials: "same-origin" });
  const data = await response.json();
  items.clear();
  list.replaceChildren(...data.results.map(render));
}

document.addEventListener("pregon:notification", (event) => {
  if (!items.has(event.detail.id)) list.prepend(render(event.detail));
});
document.addEventListener("pregon:read", (event) => {
  if (event.detail.all) items.forEach((_, id) => setRead(id));
  else event.detail.ids.forEach(setRead);
});
document.addEventListener("pregon:removed", (event) => {
  for (const id of event.detail.ids) {
    items.get(id)?.remove();
    items.delete(id);
  }
});
document.getElementById("mark-all").addEventListener("click", () => markAllRead());
onlyUnread.addEventListener("change", load);

// Preferences: muted kinds are stored and listed, never pushed or counted.
const form = document.getElementById("preferences");
async function loadPreferences() {
  const data = await (await fetch("/api/notifications/preferences", { credentials: "same-origin" })).json();
  form.querySelector(".kinds").replaceChildren(
    ...Object.entries(data.kinds).map(([kind, label]) => {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = "muted";
      box.value = kind;
      box.checked = data.muted_kinds.includes(kind);
      const wrapper = document.createElement("label");
      wrapper.append(box, ` ${label}`);
      return wrapper;
    })
  );
}
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const muted = [...form.querySelectorAll("input[name=muted]:checked")].map((box) => box.value);
  await api("PUT", "/api/notifications/preferences", { muted_kinds: muted });
  form.querySelector(".saved").hidden = false;
});

load();
loadPreferences();
