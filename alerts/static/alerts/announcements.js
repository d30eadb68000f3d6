// Compose an announcement with a live preview; before sending, ask the
// server how many people the audience reaches and confirm "Send to N
// people?"; then follow each announcement's delivered and read counters
// without reload. Texts come from the page (json_script).
import { api } from "/static/ws/pregon-api.js";
import { confirmDialog } from "/static/stores/manage.js";
import { dateTime, number } from "/static/platform_core/format.js";

const page = JSON.parse(document.getElementById("announcements-page").textContent);
const T = page.text;
const form = document.getElementById("compose");
const preview = document.getElementById("preview");
const errors = document.getElementById("errors");
const history = document.getElementById("history");
const noHistory = document.getElementById("no-history");

function fill(text, values = {}) {
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

function audience() {
  const choice = form.querySelector("input[name=audience]:checked").value;
  if (choice !== "stores") return choice;
  return { stores: [...form.querySelectorAll("input[name=store]:checked")].map((box) => Number(box.value)) };
}

function isoOrNull(value) {
  return value ? new Date(value).toISOString() : null; // datetime-local is the browser's local time
}

function renderPreview() {
  const toast = document.createElement("div");
  toast.className = `toast ${form.severity.value}`;
  const title = document.createElement("strong");
  title.textContent = form.title.value || T.untitled;
  const body = document.createElement("p");
  body.textContent = form.body.value;
  toast.append(title, body);
  preview.replaceChildren(toast);
}

function describe(target) {
  if (typeof target === "string") return T.audiences[target] ?? target;
  return fill(T.audiences.stores, { stores: target.stores.map((id) => page.stores[id] ?? `#${id}`).join(", ") });
}

function showErrors(data) {
  const error = data.error || {};
  const fields = Object.entries(error.fields || {}).map(([name, why]) => `${name}: ${why}`);
  errors.textContent = [error.message, ...fields].filter(Boolean).join(" — ");
}

// Only the counters and the status change: rows are updated in place, so
// the table does not flicker and a screen reader's position is kept.
async function loadHistory() {
  const { ok, data } = await api("GET", "/api/announcements?page_size=50");
  if (!ok) return;
  const rows = data.results.map((a) => {
    let row = history.querySelector(`tr[data-announcement-id="${a.id}"]`);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.announcementId = a.id;
      for (const name of ["title", "audience", "status", "delivered", "read", "publish"]) {
        const cell = document.createElement("td");
        cell.className = name;
        row.append(cell);
      }
    }
    const cells = row.children;
    cells[0].textContent = a.title;
    cells[1].textContent = describe(a.audience);
    cells[2].textContent = T.statuses[a.status] ?? a.status;
    row.dataset.status = a.status;
    cells[3].textContent = a.status === "delivered" || a.status === "expired" ? number(a.recipients_count) : "—";
    cells[4].textContent = a.read_count === null || a.read_count === undefined ? "—" : number(a.read_count);
    cells[5].textContent = dateTime(a.publish_at);
    return row;
  });
  history.replaceChildren(...rows);
  noHistory.hidden = rows.length > 0;
}

async function confirmed(body) {
  const { ok, data } = await api("POST", "/api/announcements/audience", { audience: body.audience });
  if (!ok) {
    showErrors(data);
    return false;
  }
  const title = body.title.trim();
  let question =
    data.recipients === 0
      ? fill(T.confirm_none, { title })
      : fill(data.recipients === 1 ? T.confirm_one : T.confirm_many, { title, count: data.recipients });
  if (body.publish_at) question += ` ${T.confirm_scheduled}`;
  return confirmDialog(question, T.send);
}

form.addEventListener("input", renderPreview);
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { title: form.title.value, body: form.body.value, severity: form.severity.value, audience: audience() };
  const publishAt = isoOrNull(form.publish_at.value);
  const expiresAt = isoOrNull(form.expires_at.value);
  if (publishAt) body.publish_at = publishAt;
  if (expiresAt) body.expires_at = expiresAt;
  errors.textContent = "";
  if (!(await confirmed(body))) return;
  const { ok, data } = await api("POST", "/api/announcements", body);
  if (!ok) {
    showErrors(data);
    return;
  }
  form.reset();
  renderPreview();
  loadHistory();
});

renderPreview();
loadHistory();
setInterval(() => {
  if (!document.hidden) loadHistory();
}, page.poll_ms);
