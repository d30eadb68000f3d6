// Tenant admins: the tenant's push and email timing (saved with its own
// button; a refused value is shown next to its field, which is marked
// invalid), and the last days' delivery totals per channel.
import { api } from "/static/ws/pregon-api.js";
import { number } from "/static/platform_core/format.js";

const page = JSON.parse(document.getElementById("deliveries-data").textContent);
const FIELDS = ["push_after_seconds", "email_digest_minutes"];
const CHANNELS = ["push", "email"];
const form = document.getElementById("timing");
const saved = document.getElementById("timing-saved");
const words = document.getElementById("words").content;
const word = (name) => words.querySelector(`[data-word="${name}"]`).textContent;

// --- the timing ---------------------------------------------------------------
function fill(timing) {
  for (const name of FIELDS) form.elements[name].value = String(timing[name]);
}

function showErrors(fields) {
  for (const name of FIELDS) {
    const input = form.elements[name];
    const error = document.getElementById(`${name}_error`);
    const problem = fields[name];
    error.textContent = problem ?? "";
    error.hidden = !problem;
    input.closest(".field").classList.toggle("invalid", Boolean(problem));
    if (problem) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", `${name}_error ${name}_help`);
    } else {
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", `${name}_help`);
    }
  }
}

// Digits go as a JSON number; anything else goes as typed, for the server
// to refuse with its reason ("٥", "1.5" and "" are not whole numbers).
function value(text) {
  const trimmed = text.trim();
  return /^[0-9]{1,15}$/.test(trimmed) ? Number(trimmed) : trimmed;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  saved.textContent = "";
  const body = Object.fromEntries(FIELDS.map((name) => [name, value(form.elements[name].value)]));
  const { ok, data } = await api("PUT", "/api/manage/notification-settings", body);
  saved.classList.toggle("error", !ok);
  if (ok) {
    showErrors({});
    fill(data);
    saved.textContent = word("saved");
    return;
  }
  const fields = data.error?.fields ?? {};
  showErrors(fields);
  saved.textContent = `${word("failed")} ${data.error?.message ?? ""}`.trim();
  const first = FIELDS.find((name) => fields[name]);
  if (first) form.elements[first].focus();
});

// --- the totals ---------------------------------------------------------------
// Sent and waiting first, then each reason a delivery was skipped for (the
// usual ones always, with their zeros), then failures.
const USUAL_SKIPS = ["read", "seen", "muted", "no_device", "no_address"];

function label(status, reason) {
  const said = page.statuses[status] ?? status;
  if (!reason) return said;
  return page.with_reason.replace("%(status)s", said).replace("%(reason)s", page.reasons[reason] ?? reason);
}

function rowsOf(counts) {
  const rows = new Map();
  const add = (status, reason) => {
    const key = `${status}|${reason}`;
    if (!rows.has(key)) rows.set(key, { status, reason, push: 0, email: 0 });
    return rows.get(key);
  };
  add("sent", "");
  add("queued", "");
  if (counts.some((c) => c.status === "sending")) add("sending", "");
  for (const reason of USUAL_SKIPS) add("skipped", reason);
  const order = ["sent", "queued", "sending", "skipped", "failed"];
  for (const { channel, status, reason, count } of counts) {
    const row = add(status, reason);
    if (CHANNELS.includes(channel)) row[channel] += count;
  }
  if (![...rows.values()].some((row) => row.status === "failed")) add("failed", "");
  return [...rows.values()].sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status));
}

function showTotals(counts) {
  const table = document.getElementById("totals");
  const body = table.tBodies[0];
  body.replaceChildren(
    ...rowsOf(counts).map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.status = row.status;
      tr.dataset.reason = row.reason;
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = label(row.status, row.reason);
      tr.append(th);
      for (const channel of CHANNELS) {
        const td = document.createElement("td");
        td.dataset.channel = channel;
        td.textContent = number(row[channel]);
        tr.append(td);
      }
      return tr;
    })
  );
  for (const channel of CHANNELS) {
    const total = counts.filter((c) => c.channel === channel).reduce((sum, c) => sum + c.count, 0);
    table.tFoot.querySelector(`td[data-channel="${channel}"]`).textContent = number(total);
  }
  table.removeAttribute("aria-busy");
}

(async () => {
  const [timing, totals] = await Promise.all([
    api("GET", "/api/manage/notification-settings"),
    api("GET", `/api/manage/deliveries/summary?days=${page.days}`),
  ]);
  if (timing.ok) fill(timing.data);
  if (totals.ok) showTotals(totals.data.counts);
  document.getElementById("totals-failed").hidden = totals.ok;
})();
