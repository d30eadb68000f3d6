// Compose an announcement with a live preview, send it, and list the history.
import { api } from "/static/ws/pregon-api.js";

const form = document.getElementById("compose");
const preview = document.getElementById("preview");
const errors = document.getElementById("errors");
const history = document.getElementById("history");

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
  title.textContent = form.title.value || "…";
  const body = document.createElement("p");
  body.textContent = form.body.value;
  toast.append(title, body);
  preview.replaceChildren(toast);
}

function describe(target) {
  return typeof target === "string" ? target : `stores ${target.stores.join(", ")}`;
}

async function loadHistory() {
  const data = await (await fetch("/api/announcements?page_size=50", { credentials: "same-origin" })).json();
  history.replaceChildren(
    ...data.results.map((a) => {
      const row = document.createElement("tr");
      row.dataset.announcementId = a.id;
      for (const value of [a.title, describe(a.audience), a.status, a.recipients_count, a.read_count ?? "—", new Date(a.publish_at).toLocaleString()]) {
        const cell = document.createElement("td");
        cell.textContent = value;
        row.append(cell);
      }
      return row;
    })
  );
}

form.addEventListener("input", renderPreview);
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { title: form.title.value, body: form.body.value, severity: form.severity.value, audience: audience() };
  const publishAt = isoOrNull(form.publish_at.value);
  const expiresAt = isoOrNull(form.expires_at.value);
  if (publishAt) body.publish_at = publishAt;
  if (expiresAt) body.expires_at = expiresAt;
  const { ok, data } = await api("POST", "/api/announcements", body);
  if (!ok) {
    const fields = Object.entries(data.error.fields || {}).map(([name, why]) => `${name}: ${why}`);
    errors.textContent = [data.error.message, ...fields].join(" — ");
    return;
  }
  errors.textContent = "";
  form.reset();
  renderPreview();
  loadHistory();
});

renderPreview();
loadHistory();
setInterval(loadHistory, 10000); // delivery and read counts move after sending
