// Tenant admins: create integrations, rotate and revoke secrets, read deliveries.
import { api } from "/static/ws/pregon-api.js";

const list = document.getElementById("list");
const shown = document.getElementById("secret-shown");
const form = document.getElementById("create");

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function showSecret(integration, secret) {
  const box = el("div", undefined, { class: "card" });
  box.append(el("p", `Secret for "${integration}" — shown once:`), el("p", secret, { class: "secret-once", id: "new-secret" }));
  shown.replaceChildren(box);
}

async function deliveries(integration) {
  const { data } = await api("GET", `/api/integrations/${integration.id}/deliveries?page_size=20`);
  const table = el("table");
  table.append(el("tr"));
  table.firstChild.append(...["received", "webhook-id", "event", "status", "error"].map((h) => el("th", h)));
  for (const d of data.results) {
    const row = el("tr", undefined, { class: d.accepted ? "" : "refused" });
    row.append(...[new Date(d.received_at).toLocaleString(), d.webhook_id, d.event_type, d.status_code, d.error].map((v) => el("td", String(v))));
    table.append(row);
  }
  return table;
}

async function load() {
  const { data } = await api("GET", "/api/integrations?page_size=100");
  const cards = [];
  for (const integration of data.results) {
    const card = el("section", undefined, { class: "card integration", "data-integration-id": integration.id });
    card.append(el("h2", `${integration.name} (#${integration.id})`));
    card.append(el("p", `POST ${location.origin}${integration.webhook_url} — ${integration.all_stores ? "all stores" : `stores ${integration.stores.join(", ")}`}`));
    const secrets = el("ul");
    for (const secret of integration.secrets) {
      const item = el("li", `${secret.prefix} created ${new Date(secret.created_at).toLocaleString()} ${secret.active ? "" : "(revoked)"}`);
      if (secret.active) {
        const revoke = el("button", "Revoke", { type: "button" });
        revoke.addEventListener("click", async () => {
          await api("DELETE", `/api/integrations/${integration.id}/secrets/${secret.id}`);
          load();
        });
        item.append(" ", revoke);
      }
      secrets.append(item);
    }
    const rotate = el("button", "Add a secret (rotate)", { type: "button" });
    rotate.addEventListener("click", async () => {
      const { data: added } = await api("POST", `/api/integrations/${integration.id}/secrets`);
      showSecret(integration.name, added.secret);
      load();
    });
    card.append(secrets, rotate, el("h3", "Recent deliveries"), await deliveries(integration));
    cards.push(card);
  }
  list.replaceChildren(...cards);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { name: form.name.value };
  if (!form.all.checked) body.stores = [...form.querySelectorAll("input[name=store]:checked")].map((b) => Number(b.value));
  const { ok, data } = await api("POST", "/api/integrations", body);
  if (!ok) {
    document.getElementById("errors").textContent = `${data.error.message} ${JSON.stringify(data.error.fields)}`;
    return;
  }
  document.getElementById("errors").textContent = "";
  showSecret(data.name, data.secret);
  form.reset();
  load();
});

load();
