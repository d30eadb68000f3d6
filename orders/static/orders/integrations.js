// Tenant admins' integrations: create, rotate and revoke secrets (a secret
// is shown once, with a copy button), send a signed test event, and watch
// the delivery log update without reload. Every text comes from the page
// (json_script), translated there.
import { api } from "/static/ws/pregon-api.js";
import { confirmDialog, wireCopyButton } from "/static/stores/manage.js";
import { dateTime } from "/static/platform_core/format.js";

const page = JSON.parse(document.getElementById("integrations-page").textContent);
const T = page.text;
const list = document.getElementById("list");
const empty = document.getElementById("empty");
const shown = document.getElementById("secret-shown");
const form = document.getElementById("create");
const storeNames = new Map(page.stores.map((s) => [s.id, s.name]));
const KEEP = 50; // log rows kept per integration

function fill(text, values = {}) {
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function copyButton(sourceId) {
  const button = el("button", T.copy, { type: "button", "data-copy": sourceId, "data-copied": T.copied, class: "copy" });
  wireCopyButton(button);
  return button;
}

function showSecret(name, secret) {
  const box = el("div", undefined, { class: "card secret-box" });
  const row = el("div", undefined, { class: "copy-row" });
  row.append(el("code", secret, { class: "secret-once copy-source", id: "new-secret" }), copyButton("new-secret"));
  box.append(el("p", fill(T.secret_once, { name })), row);
  shown.replaceChildren(box);
  box.querySelector("button").focus();
}

function errorText(data) {
  const error = data.error || {};
  const fields = Object.entries(error.fields || {}).map(([name, why]) => `${name}: ${why}`);
  return [error.message, ...fields].filter(Boolean).join(" — ");
}

// --- the delivery log of one integration --------------------------------------------
class DeliveryLog {
  constructor(integration, card) {
    this.integration = integration;
    this.lastId = 0;
    this.rows = [];
    const id = integration.id;
    const section = el("section", undefined, { class: "deliveries", "aria-labelledby": `deliveries-${id}` });
    const heading = el("h3", T.deliveries, { id: `deliveries-${id}` });
    heading.append(" ", el("span", T.live, { class: "live-badge" }));
    this.filters = el("div", undefined, { class: "filters" });
    this.outcome = this.select(`outcome-${id}`, T.outcome, [["", T.any], ["accepted", T.accepted], ["refused", T.refused]]);
    this.eventType = this.select(`event-type-${id}`, T.event_type, [["", T.any], ...page.event_types.map((t) => [t, t])]);
    this.since = this.select(`since-${id}`, T.since, T.since_options);
    this.body = el("tbody");
    const table = el("table", undefined, { class: "log" });
    const head = el("tr");
    head.append(...T.columns.map((c) => el("th", c, { scope: "col" })));
    table.append(el("thead"), this.body);
    table.tHead.append(head);
    const wrap = el("div", undefined, { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": `deliveries-${id}` });
    wrap.append(table);
    this.none = el("p", T.no_deliveries, { class: "muted" });
    section.append(heading, this.filters, wrap, this.none);
    card.append(section);
  }

  select(id, label, options) {
    const box = el("div", undefined, { class: "field" });
    const select = el("select", undefined, { id, name: id });
    for (const [value, text] of options) select.append(el("option", text, { value }));
    select.addEventListener("change", () => this.reload());
    box.append(el("label", label, { for: id }), select);
    this.filters.append(box);
    return select;
  }

  query() {
    const params = new URLSearchParams({ page_size: String(KEEP) });
    if (this.outcome.value) params.set("outcome", this.outcome.value);
    if (this.eventType.value) params.set("event_type", this.eventType.value);
    if (this.since.value) params.set("since", new Date(Date.now() - Number(this.since.value) * 1000).toISOString());
    return params;
  }

  async reload() {
    this.lastId = 0;
    this.rows = [];
    this.body.replaceChildren();
    await this.poll();
  }

  // New deliveries only (`after`), newest first, on top of the table.
  async poll() {
    const params = this.query();
    if (this.lastId) params.set("after", String(this.lastId));
    const { ok, data } = await api("GET", `/api/integrations/${this.integration.id}/deliveries?${params}`);
    if (!ok) return;
    const fresh = data.results.filter((d) => d.id > this.lastId);
    if (fresh.length) {
      this.lastId = Math.max(this.lastId, ...fresh.map((d) => d.id));
      const rows = fresh.map((d) => this.row(d, this.rows.length > 0));
      this.body.prepend(...rows);
      this.rows = [...rows, ...this.rows];
      for (const old of this.rows.splice(KEEP)) old.remove();
    }
    this.none.hidden = this.rows.length > 0;
  }

  row(d, isNew) {
    const row = el("tr", undefined, { "data-delivery-id": d.id, class: `${d.accepted ? "accepted" : "refused"}${isNew ? " new" : ""}` });
    const when = dateTime(d.received_at);
    row.append(
      el("td", when),
      el("td", d.event_type || "—"),
      el("td", `${d.status_code} ${d.accepted ? T.accepted : T.refused}`, { class: "status" }),
      el("td", d.webhook_id, { class: "mono" }),
      el("td", d.error || ""),
    );
    return row;
  }
}

// --- one integration ---------------------------------------------------------------
function testEvent(integration, card) {
  const id = integration.id;
  const allowed = integration.all_stores ? page.stores.map((s) => s.id) : integration.stores;
  const section = el("section", undefined, { class: "test-event", "aria-labelledby": `test-${id}` });
  const select = el("select", undefined, { id: `test-store-${id}` });
  for (const storeId of allowed) select.append(el("option", `${storeNames.get(storeId) ?? ""} (#${storeId})`, { value: storeId }));
  const button = el("button", T.test_send, { type: "button", class: "primary send-test" });
  const result = el("p", undefined, { class: "test-result", role: "status" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    result.className = "test-result";
    result.textContent = T.test_sending;
    const { ok, data } = await api("POST", `/api/integrations/${id}/test-event`, { store_id: Number(select.value) });
    button.disabled = false;
    if (!ok) {
      result.className = "test-result refused";
      result.textContent = fill(T.error, { message: errorText(data) });
    } else if (data.delivered) {
      result.className = "test-result accepted";
      result.textContent = fill(T.test_ok, { external_id: data.answer.order.external_id, store: storeNames.get(data.answer.order.store_id) ?? data.answer.order.store_id });
    } else {
      result.className = "test-result refused";
      result.textContent = fill(T.test_refused, { status: data.status, message: errorText(data.answer) });
    }
    logs.get(id)?.poll();
  });
  const field = el("div", undefined, { class: "field" });
  field.append(el("label", T.test_store, { for: select.id }), select);
  const row = el("div", undefined, { class: "test-row" });
  row.append(field, button);
  section.append(el("h3", T.test_title, { id: `test-${id}` }), el("p", T.test_help, { class: "help" }), row, result);
  card.append(section);
}

function secretsList(integration, card) {
  card.append(el("h3", T.secrets));
  const secrets = el("ul", undefined, { class: "secrets" });
  for (const secret of integration.secrets) {
    const item = el("li");
    item.append(el("code", secret.prefix), " ", el("span", fill(T.created, { when: dateTime(secret.created_at) }), { class: "muted" }));
    if (secret.active) {
      const revoke = el("button", T.revoke, { type: "button", class: "revoke" });
      revoke.addEventListener("click", async () => {
        if (!(await confirmDialog(fill(T.revoke_confirm, { prefix: secret.prefix }), T.revoke))) return;
        await api("DELETE", `/api/integrations/${integration.id}/secrets/${secret.id}`);
        load();
      });
      item.append(" ", revoke);
    } else {
      item.append(" ", el("span", `(${T.revoked})`, { class: "muted" }));
    }
    secrets.append(item);
  }
  const rotate = el("button", T.rotate, { type: "button" });
  rotate.addEventListener("click", async () => {
    const { ok, data } = await api("POST", `/api/integrations/${integration.id}/secrets`);
    if (ok) showSecret(integration.name, data.secret);
    load();
  });
  card.append(secrets, rotate);
}

const logs = new Map(); // integration id → DeliveryLog

async function load() {
  const { ok, data } = await api("GET", "/api/integrations?page_size=100");
  if (!ok) return;
  const cards = [];
  logs.clear();
  for (const integration of data.results) {
    const card = el("section", undefined, { class: "card integration", "data-integration-id": integration.id, "aria-labelledby": `integration-${integration.id}` });
    card.append(el("h2", `${integration.name} (#${integration.id})`, { id: `integration-${integration.id}` }));
    const url = el("div", undefined, { class: "copy-row" });
    const urlId = `webhook-url-${integration.id}`;
    url.append(el("code", `${location.origin}${integration.webhook_url}`, { id: urlId, class: "copy-source" }), copyButton(urlId));
    const scope = integration.all_stores ? T.all_stores : fill(T.some_stores, { stores: integration.stores.map((s) => storeNames.get(s) ?? `#${s}`).join(", ") });
    card.append(el("p", T.post_to, { class: "label" }), url, el("p", scope, { class: "muted" }));
    secretsList(integration, card);
    testEvent(integration, card);
    const log = new DeliveryLog(integration, card);
    logs.set(integration.id, log);
    cards.push(card);
  }
  list.replaceChildren(...cards);
  list.setAttribute("aria-busy", "false");
  empty.hidden = cards.length > 0;
  await Promise.all([...logs.values()].map((log) => log.poll()));
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const errors = document.getElementById("create-errors");
  const body = { name: form.name.value };
  if (!form.all.checked) body.stores = [...form.querySelectorAll("input[name=store]:checked")].map((b) => Number(b.value));
  const { ok, data } = await api("POST", "/api/integrations", body);
  if (!ok) {
    errors.textContent = errorText(data);
    form.name.setAttribute("aria-invalid", "true");
    return;
  }
  errors.textContent = "";
  form.name.removeAttribute("aria-invalid");
  form.reset();
  await load();
  showSecret(data.name, data.secret);
});

// The log follows new deliveries while the page is visible.
setInterval(() => {
  if (!document.hidden) for (const log of logs.values()) log.poll();
}, page.poll_ms);

load();
