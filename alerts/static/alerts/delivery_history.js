// The preferences page's delivery history: what became of the user's
// latest notifications on each off-site channel (push, email), newest
// first, from GET /api/notifications/deliveries; "Show older" follows the
// cursor. The words for channels, statuses and reasons come from the page
// (history-data), in the reader's language.
import { api } from "/static/ws/pregon-api.js";
import { keepFresh, timeElement } from "./when.js";

const page = JSON.parse(document.getElementById("history-data").textContent);
const list = document.getElementById("deliveries");
const empty = document.getElementById("deliveries-empty");
const failed = document.getElementById("deliveries-failed");
const more = document.getElementById("deliveries-more");
let next = null;
let loading = false;

// "Skipped: Already read"; a status with no reason is just its word.
function outcome(words, status, reason) {
  const said = words.statuses[status] ?? status;
  if (!reason) return said;
  return words.with_reason.replace("%(status)s", said).replace("%(reason)s", words.reasons[reason] ?? reason);
}

// Only the site's own pages are links (a notification's url is a path).
const ownPath = (url) => typeof url === "string" && url.startsWith("/") && !url.startsWith("//");

function item(delivery) {
  const li = document.createElement("li");
  li.className = "delivery";
  li.dataset.id = delivery.id;
  li.dataset.status = delivery.status;
  const title = document.createElement(ownPath(delivery.notification.url) ? "a" : "span");
  title.className = "title";
  title.textContent = delivery.notification.title;
  if (title.tagName === "A") title.href = delivery.notification.url;
  const meta = document.createElement("p");
  meta.className = "meta";
  const channel = document.createElement("span");
  channel.className = "channel";
  channel.textContent = page.channels[delivery.channel] ?? delivery.channel;
  const status = document.createElement("span");
  status.className = "status";
  status.textContent = outcome(page, delivery.status, delivery.reason);
  meta.append(channel, status, timeElement(delivery.updated_at));
  li.append(title, meta);
  if (delivery.detail) {
    const detail = document.createElement("p");
    detail.className = "detail";
    detail.textContent = delivery.detail;
    li.append(detail);
  }
  return li;
}

async function load(before) {
  const query = new URLSearchParams({ limit: page.limit });
  if (before) query.set("before", before);
  const { ok, data } = await api("GET", `/api/notifications/deliveries?${query}`);
  list.removeAttribute("aria-busy");
  failed.hidden = ok;
  if (!ok) return;
  list.append(...data.results.map(item));
  next = data.next;
  more.hidden = next === null;
  empty.hidden = list.children.length > 0;
  list.hidden = list.children.length === 0;
  keepFresh();
}

// The button keeps the focus while it loads (disabling it would drop the
// focus to the page); when the last page hides it, the focus goes to the
// first of the older ones.
more.addEventListener("click", async () => {
  if (loading) return;
  loading = true;
  more.setAttribute("aria-busy", "true");
  const first = list.children.length;
  try {
    await load(next);
  } finally {
    loading = false;
    more.removeAttribute("aria-busy");
  }
  const arrived = list.children[first]?.querySelector(".title");
  if (arrived && more.hidden) {
    if (arrived.tagName !== "A") arrived.tabIndex = -1;
    arrived.focus();
  }
});

load(null);
