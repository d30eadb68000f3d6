// The user's notification preferences: one group per kind, a switch per
// channel. Each switch is saved as it changes (PUT with only that switch);
// a refused change (a critical kind, a server error) is switched back and
// the reason shown. Critical kinds (the tenant admins choose them)
// keep every channel on, locked, with the reason.
import { api } from "/static/ws/pregon-api.js";

const CHANNELS = ["in_app", "push", "email"];
const box = document.getElementById("kinds");
const saved = document.getElementById("saved");
const words = document.getElementById("channel-words").content;
const word = (name) => words.querySelector(`[data-word="${name}"]`).textContent;
const channelName = (channel) => words.querySelector(`[data-channel="${channel}"]`).textContent;

function say(text, { error = false } = {}) {
  saved.textContent = text;
  saved.classList.toggle("error", error);
}

function row(kind, preference) {
  const fieldset = document.createElement("fieldset");
  fieldset.className = "kind";
  fieldset.dataset.kind = kind;
  const legend = document.createElement("legend");
  legend.textContent = preference.label;
  const channels = document.createElement("div");
  channels.className = "channels";
  for (const channel of CHANNELS) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.setAttribute("role", "switch");
    input.name = channel;
    input.checked = Boolean(preference.channels[channel]);
    const locked = preference.critical; // the server keeps every channel of a critical kind on
    if (locked) {
      input.checked = true;
      input.disabled = true;
      input.setAttribute("aria-describedby", `locked-${kind}`);
    }
    input.addEventListener("change", () => save(kind, channel, input));
    label.append(input, channelName(channel));
    channels.append(label);
  }
  fieldset.append(legend, channels);
  if (preference.critical) {
    const note = document.createElement("p");
    note.className = "locked";
    note.id = `locked-${kind}`;
    note.append(document.getElementById("icon-lock").content.cloneNode(true), word("critical"));
    fieldset.append(note);
  }
  const wrapper = document.createElement("div");
  wrapper.className = "kind-row";
  wrapper.append(fieldset);
  return wrapper;
}

// The switch keeps the focus while it saves (disabling it would drop the
// focus to the page); the answer draws the list again, the focus in place.
async function save(kind, channel, input) {
  const value = input.checked;
  say(""); // a second "Saved." is news too
  const { ok, data } = await api("PUT", "/api/notifications/preferences", { kinds: { [kind]: { [channel]: value } } });
  if (ok) {
    say(word("saved"));
    show(data);
  } else {
    input.checked = !value;
    say(`${word("failed")} ${data.error?.message ?? ""}`.trim(), { error: true });
  }
}

function show(data) {
  const focused = document.activeElement;
  const where = focused?.closest?.("fieldset.kind") ? [focused.closest("fieldset.kind").dataset.kind, focused.name] : null;
  box.replaceChildren(...Object.entries(data.kinds).map(([kind, preference]) => row(kind, preference)));
  box.removeAttribute("aria-busy");
  // The list was drawn again: the focus stays on the same switch.
  if (where) box.querySelector(`fieldset[data-kind="${where[0]}"] input[name="${where[1]}"]`)?.focus();
}

async function load() {
  const { ok, data } = await api("GET", "/api/notifications/preferences");
  if (ok) show(data);
}

document.getElementById("preferences").addEventListener("submit", (event) => event.preventDefault());
load();
