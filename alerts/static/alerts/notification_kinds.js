// Tenant admins: which kinds are critical (nobody can turn them off in the
// app). One switch per kind, saved together with the button.
import { api } from "/static/ws/pregon-api.js";

const form = document.getElementById("kinds-form");
const box = document.getElementById("kinds");
const saved = document.getElementById("saved");
const words = document.getElementById("words").content;
const word = (name) => words.querySelector(`[data-word="${name}"]`).textContent;

function show(data) {
  box.replaceChildren(
    ...Object.entries(data.kinds).map(([kind, { label, critical }]) => {
      const wrapper = document.createElement("label");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.setAttribute("role", "switch");
      input.name = "critical";
      input.value = kind;
      input.checked = Boolean(critical);
      wrapper.append(input, label);
      return wrapper;
    })
  );
  box.removeAttribute("aria-busy");
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const kinds = Object.fromEntries(
    [...box.querySelectorAll("input[name=critical]")].map((input) => [input.value, { critical: input.checked }])
  );
  const { ok, data } = await api("PUT", "/api/manage/notification-kinds", { kinds });
  saved.classList.toggle("error", !ok);
  saved.textContent = ok ? word("saved") : `${word("failed")} ${data.error?.message ?? ""}`.trim();
  if (ok) show(data);
});

(async () => {
  const { ok, data } = await api("GET", "/api/manage/notification-kinds");
  if (ok) show(data);
})();
